package telemetry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"
	"go.opentelemetry.io/otel/trace"
)

// The provider client's instrumentation (HTTPTransport). With telemetry on,
// clientTransport emits exactly what otelhttp v0.72.0's Transport, as
// Flowker used it (no options; no OTEL_SEMCONV_STABILITY_OPT_IN handling in
// that version: semantic conventions 1.43 only), emitted: the same
// instrumentation scope, the CLIENT span "HTTP <method>" with the same
// attributes, status and error recording, ended when the response body is
// read to EOF or closed (at once on a transport error), the same tracer
// choice (the provider of the caller's span, else the global one), the
// traceparent/tracestate/baggage headers, and http.client.request.duration
// and http.client.request.body.size with the same attribute sets, recorded
// when RoundTrip returns or, for a request with a body, once that body is
// closed too. httpclient_equivalence_test.go runs both on the same requests
// and compares every span and data point.
//
// What it leaves out is otelhttp's work that produced nothing: a deep clone
// of the request (a shallow copy with its own header map is all the
// RoundTripper contract asks for), a metric attribute set built, sorted and
// hashed per request (they are cached per method, host, scheme, port,
// protocol, status and error type), a tracer looked up per request, two
// rounds of span attributes where one does, and a client labeler put in
// every request's context (nothing in Flowker adds labels).

// otelhttp's instrumentation scope, kept so that the exported data, and
// queries selecting by scope, are unchanged.
const (
	otelhttpScope   = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	otelhttpVersion = "0.72.0"
)

// otelhttp's advisory buckets for the duration; Setup's view replaces them
// with LatencyBucketsMS in seconds.
var clientDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

type clientTransport struct {
	base     http.RoundTripper
	plainH1  bool // base is net/http's Transport, without HTTP/2 in the clear: see bodyInMemory
	prop     propagation.TextMapPropagator
	duration metric.Float64Histogram
	bodySize metric.Int64Histogram
	tracer   atomic.Pointer[providerTracer] // the last provider's tracer
	sets     boundedCache[clientLabels, measurementOpts]
}

type providerTracer struct {
	tp     trace.TracerProvider
	tracer trace.Tracer
}

func newClientTransport(base http.RoundTripper, mp metric.MeterProvider, prop propagation.TextMapPropagator) *clientTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	t := &clientTransport{base: base, plainH1: plainHTTP1(base), prop: prop}
	meter := mp.Meter(otelhttpScope, metric.WithInstrumentationVersion(otelhttpVersion))
	// The semantic conventions' own constructors: names, units and
	// descriptions are theirs, as otelhttp's are. An instrument returned
	// with an error is still usable.
	size, err := httpconv.NewClientRequestBodySize(meter)
	if err != nil {
		otel.Handle(err)
	}
	duration, err := httpconv.NewClientRequestDuration(meter, metric.WithExplicitBucketBoundaries(clientDurationBuckets...))
	if err != nil {
		otel.Handle(err)
	}
	t.bodySize, t.duration = size.Inst(), duration.Inst()
	return t
}

var clientSpanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// clientSpanAttrs is a round trip's span attributes until the span copies
// them, pooled. At most 7 from the request, then 4 from the response or 1
// for a transport error.
type clientSpanAttrs struct{ kv [12]attribute.KeyValue }

var clientSpanAttrsPool = sync.Pool{New: func() any { return new(clientSpanAttrs) }}

// RoundTrip sends r in a client span, r's copy carrying the span's context.
func (t *clientTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	parent := r.Context()
	ctx, span := t.tracerFor(parent).Start(parent, clientSpanName(r.Method), clientSpanStart...)
	call := &clientCall{t: t, span: span, ctx: ctx}
	var out *http.Request // a copy: the caller's request is not modified
	if mem, ok := t.bodyInMemory(r); ok {
		out = call.sendInMemory(ctx, r, mem)
	} else {
		out = r.WithContext(ctx)
		if r.Body != nil && r.Body != http.NoBody {
			call.trackBody(out)
		}
	}
	out.Header = call.headers.clone(r.Header)
	host, port := requestHostPort(r)
	buf := clientSpanAttrsPool.Get().(*clientSpanAttrs)
	attrs := appendRequestAttrs(buf.kv[:0], r, host, port)
	t.prop.Inject(ctx, &call.headers)

	res, err := t.base.RoundTrip(out)
	if err == nil {
		res, err = checkResponse(t.base, out, res)
	}
	elapsed := time.Since(start)

	labels := clientLabels{method: metricMethod(r.Method), host: host, scheme: requestScheme(r), port: port, proto: r.Proto}
	if res != nil && res.Proto != "" {
		labels.proto = res.Proto
	}
	if err == nil {
		labels.status = res.StatusCode
	} else {
		labels.errType = reflect.TypeOf(err)
	}
	call.publish(elapsed, t.measurement(labels), err)

	if err != nil {
		span.SetAttributes(append(attrs, semconv.ErrorType(err))...)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		putClientSpanAttrs(buf)
		return res, err
	}
	span.SetAttributes(appendResponseAttrs(attrs, res)...)
	if code, desc := clientStatus(res.StatusCode); code != codes.Unset {
		span.SetStatus(code, desc)
	}
	putClientSpanAttrs(buf)
	call.resp.body = res.Body
	call.resp.call = call
	if _, ok := res.Body.(io.ReadWriteCloser); ok { // a protocol switch: the body stays writable
		res.Body = (*clientRWBody)(&call.resp)
	} else {
		res.Body = &call.resp
	}
	return res, nil
}

func putClientSpanAttrs(buf *clientSpanAttrs) {
	*buf = clientSpanAttrs{}
	clientSpanAttrsPool.Put(buf)
}

// tracerFor is otelhttp's choice: the provider of the caller's span, else
// the global one. Its tracer is remembered, not looked up per request.
func (t *clientTransport) tracerFor(ctx context.Context) trace.Tracer {
	var tp trace.TracerProvider
	if s := trace.SpanFromContext(ctx); s.SpanContext().IsValid() {
		tp = s.TracerProvider()
	} else {
		tp = otel.GetTracerProvider()
	}
	if last := t.tracer.Load(); last != nil && sameProvider(last.tp, tp) {
		return last.tracer
	}
	tracer := tp.Tracer(otelhttpScope, trace.WithInstrumentationVersion(otelhttpVersion))
	t.tracer.Store(&providerTracer{tp: tp, tracer: tracer})
	return tracer
}

// sameProvider compares two providers without panicking on a
// non-comparable implementation.
func sameProvider(a, b trace.TracerProvider) bool {
	ta := reflect.TypeOf(a)
	return ta != nil && ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

func clientSpanName(method string) string {
	switch method {
	case http.MethodGet:
		return "HTTP GET"
	case http.MethodPost:
		return "HTTP POST"
	case http.MethodPut:
		return "HTTP PUT"
	case http.MethodPatch:
		return "HTTP PATCH"
	case http.MethodDelete:
		return "HTTP DELETE"
	case http.MethodHead:
		return "HTTP HEAD"
	}
	return "HTTP " + method
}

// checkResponse refuses what http.Client refuses from a RoundTripper (a
// nil response, a nil body with content), naming base as otelhttp does,
// and gives an empty response a body.
func checkResponse(base http.RoundTripper, r *http.Request, res *http.Response) (*http.Response, error) {
	if res == nil {
		return nil, fmt.Errorf("http: RoundTripper implementation (%T) returned a nil *Response with a nil error", base)
	}
	if res.Body == nil {
		if res.ContentLength > 0 && r.Method != http.MethodHead {
			return nil, fmt.Errorf("http: RoundTripper implementation (%T) returned a *Response with content length %d but a nil Body",
				base, res.ContentLength)
		}
		res.Body = http.NoBody
	}
	return res, nil
}

// clientCall is one round trip's state past RoundTrip, in one allocation:
// the span, the request body being sent, the response body being read.
type clientCall struct {
	t    *clientTransport
	span trace.Span
	ctx  context.Context

	headers outgoingHeaders
	first   sentBody // the request's body, counted as read
	mem     memBody  // or the request's body in memory, handed over as is
	trace   httptrace.ClientTrace
	getBody func() (io.ReadCloser, error)

	// The metrics are recorded once RoundTrip returned and the transport
	// is done with the body last handed to it (it may be done later, on
	// another goroutine); a body that failed to rewind records 0 bytes.
	mu        sync.Mutex
	body      sentTracker
	published bool
	recorded  bool
	elapsed   time.Duration
	opts      measurementOpts

	resp clientBody
}

func (c *clientCall) trackBody(out *http.Request) {
	c.first = sentBody{body: out.Body, call: c}
	c.body = &c.first
	out.Body = &c.first
	if out.GetBody != nil {
		c.getBody = out.GetBody
		out.GetBody = c.rewind
	}
}

// rewind is the request's GetBody, for the transport's retries.
func (c *clientCall) rewind() (io.ReadCloser, error) {
	b, err := c.getBody()
	if err != nil {
		c.mu.Lock()
		c.body = nil
		c.mu.Unlock()
		return nil, err
	}
	if b == nil || b == http.NoBody {
		return b, nil
	}
	sent := &sentBody{body: b, call: c}
	c.mu.Lock()
	c.body = sent
	c.mu.Unlock()
	return sent, nil
}

func (c *clientCall) publish(elapsed time.Duration, opts measurementOpts, err error) {
	c.mu.Lock()
	c.elapsed, c.opts, c.published = elapsed, opts, true
	if err != nil && c.body == &c.mem && !c.mem.writing.Load() {
		c.mem.done.Store(true) // never written, and never will be: see sendInMemory
	}
	c.mu.Unlock()
	c.maybeRecord()
}

func (c *clientCall) maybeRecord() {
	c.mu.Lock()
	body := c.body
	record := c.published && !c.recorded && (body == nil || body.finished())
	c.recorded = c.recorded || record
	c.mu.Unlock()
	if !record {
		return
	}
	var size int64
	if body != nil {
		size = body.bytesRead()
	}
	c.t.bodySize.Record(c.ctx, size, c.opts.record...)
	c.t.duration.Record(c.ctx, float64(c.elapsed)/float64(time.Second), c.opts.record...)
}

// sentTracker is what the transport read of a request body, and whether
// it is done with it.
type sentTracker interface {
	finished() bool
	bytesRead() int64
}

// sentBody counts what the transport reads of a request body.
type sentBody struct {
	body   io.ReadCloser
	call   *clientCall
	read   atomic.Int64
	closed atomic.Bool
}

func (b *sentBody) finished() bool   { return b.closed.Load() }
func (b *sentBody) bytesRead() int64 { return b.read.Load() }

func (b *sentBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *sentBody) Close() error {
	b.closed.Store(true)
	b.call.maybeRecord() // before a Close that might block
	return b.body.Close()
}

// clientBody is the response body: the span ends at EOF or Close, a read
// error is recorded on it.
type clientBody struct {
	body  io.ReadCloser
	call  *clientCall
	ended atomic.Bool
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	switch err {
	case nil:
	case io.EOF: //nolint:errorlint // a reader returns io.EOF itself, never wrapped
		b.end()
	default:
		b.fail(err)
	}
	return n, err
}

func (b *clientBody) Close() error {
	b.end()
	return b.body.Close()
}

func (b *clientBody) end() {
	if b.ended.CompareAndSwap(false, true) {
		b.call.span.End()
	}
}

func (b *clientBody) fail(err error) {
	b.call.span.SetAttributes(semconv.ErrorType(err))
	b.call.span.SetStatus(codes.Error, err.Error())
}

// clientRWBody is the body of a switched protocol, still writable.
type clientRWBody clientBody

func (b *clientRWBody) Read(p []byte) (int, error) { return (*clientBody)(b).Read(p) }
func (b *clientRWBody) Close() error               { return (*clientBody)(b).Close() }

func (b *clientRWBody) Write(p []byte) (int, error) {
	n, err := b.body.(io.Writer).Write(p)
	if err != nil {
		(*clientBody)(b).fail(err)
	}
	return n, err
}

// outgoingHeaders is the copy of a request's header map the propagator
// writes into: values share one backing array with room for the three
// W3C headers, whose canonical names are constants.
type outgoingHeaders struct {
	h     http.Header
	spare []string
}

const propagationHeaders = 3 // traceparent, tracestate, baggage

// clone returns a copy of h with room for the propagation headers.
func (o *outgoingHeaders) clone(h http.Header) http.Header {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	values := make([]string, n+propagationHeaders)
	o.h = make(http.Header, len(h)+propagationHeaders)
	for k, vs := range h {
		if vs == nil {
			o.h[k] = nil // as http.Header.Clone keeps it
			continue
		}
		c := copy(values, vs)
		o.h[k] = values[:c:c]
		values = values[c:]
	}
	o.spare = values
	return o.h
}

func (o *outgoingHeaders) Get(key string) string { return o.h.Get(key) }

func (o *outgoingHeaders) Keys() []string { return propagation.HeaderCarrier(o.h).Keys() }

// Set is http.Header's Set.
func (o *outgoingHeaders) Set(key, value string) {
	key = canonicalKey(key)
	if len(o.spare) == 0 {
		o.h[key] = []string{value}
		return
	}
	o.spare[0] = value
	o.h[key] = o.spare[:1:1]
	o.spare = o.spare[1:]
}

// propagatingTransport is the provider transport with telemetry off: it
// only sends the caller's trace context (traceparent, tracestate, baggage),
// as otelhttp did on the no-op providers. A request without any goes
// through untouched; one with is copied, with its own header map.
//
// Of otelhttp's other doings on the no-op providers only the response
// check is observable and kept (a nil response or nil body from base is
// refused, or completed, as http.Client would, naming base). Its request
// clone and body wrappers changed nothing a caller relies on; the request
// body wrapper only made net/http send headers and body in two writes.
type propagatingTransport struct {
	base http.RoundTripper
	prop propagation.TextMapPropagator
}

func (t *propagatingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	// Propagators write nothing for a context without a span context or
	// baggage (W3C's, B3, Jaeger: all of them read only these).
	if ctx := r.Context(); trace.SpanContextFromContext(ctx).IsValid() || baggage.FromContext(ctx).Len() > 0 {
		out := &propagatedRequest{req: *r} // a shallow copy, as WithContext makes, and its carrier: one allocation
		out.req.Header = out.headers.clone(r.Header)
		t.prop.Inject(ctx, &out.headers)
		r = &out.req
	}
	res, err := t.base.RoundTrip(r)
	if err == nil {
		res, err = checkResponse(t.base, r, res)
	}
	return res, err
}

type propagatedRequest struct {
	req     http.Request
	headers outgoingHeaders
}
