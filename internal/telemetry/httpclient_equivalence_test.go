package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The provider client's instrumentation (httpclient.go) replaced otelhttp
// v0.72.0 on the promise that it emits exactly what otelhttp emitted. This
// test holds it to that: the same requests — to a real server and to a stub
// transport producing the odd cases (invalid statuses, HTTP/2, protocol
// switches, read errors, retries, late request-body closes, unusual hosts
// and methods) — go through otelhttp.NewTransport and through
// clientTransport, each on its own SDK providers with the same
// deterministic ids, and every span, every metric data point (exemplars
// included) and everything the caller and the server see must be equal.

func TestClientTelemetryEmitsWhatOtelhttpEmitted(t *testing.T) { // not parallel: sets the global tracer provider
	require.Equal(t, otelhttp.ScopeName, otelhttpScope, "the scope is otelhttp's")
	require.Equal(t, otelhttp.Version, otelhttpVersion, "go.mod moved otelhttp: compare again, then update the version")
	for _, v := range []struct {
		name   string
		view   sdkmetric.View
		direct bool
	}{{"Setup's view", view, false}, {"no view", nil, false}, {"net/http's transport, bodies in memory as is", view, true}} {
		t.Run(v.name, func(t *testing.T) {
			server := newClientTestServer(t)
			reference := runClientScript(t, server, v.view, v.direct, func(base http.RoundTripper, mp metric.MeterProvider) http.RoundTripper {
				return otelhttp.NewTransport(base, otelhttp.WithMeterProvider(mp), otelhttp.WithPropagators(Propagator()))
			})
			lean := runClientScript(t, server, v.view, v.direct, func(base http.RoundTripper, mp metric.MeterProvider) http.RoundTripper {
				return newClientTransport(base, mp, Propagator())
			})
			require.Equal(t, reference.log, lean.log, "what callers and servers saw")
			require.NotEmpty(t, reference.spans)
			require.Equal(t, reference.spans, lean.spans, "spans")
			require.NotEmpty(t, reference.metrics)
			require.Equal(t, reference.metrics, lean.metrics, "metric data points")
		})
	}
}

// clientRun is what one transport produced.
type clientRun struct {
	log     []string
	spans   []spanSummary
	metrics []string
}

type spanSummary struct {
	Name           string
	Kind           trace.SpanKind
	Context        string
	Parent         string
	Attributes     []attribute.KeyValue
	Status         sdktrace.Status
	Events         []string
	Links          int
	Dropped        int
	ChildSpanCount int
	Scope          string
}

type clientTestServer struct {
	url  string
	mu   sync.Mutex
	seen []string // per request: method, URI and the propagation headers
}

func newClientTestServer(t *testing.T) *clientTestServer {
	t.Helper()
	s := &clientTestServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, fmt.Sprintf("server: %s %s traceparent=%q tracestate=%q baggage=%q body=%q", r.Method, r.URL.RequestURI(),
			r.Header.Get("traceparent"), r.Header.Get("tracestate"), r.Header.Get("baggage"), body))
		s.mu.Unlock()
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte("ok"))
		case "/echo":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(body)
		case "/fail":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *clientTestServer) drain() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.seen
	s.seen = nil
	return out
}

// runClientScript sends the script's requests through the transport build
// makes, on fresh SDK providers installed as the globals (otelhttp, as
// Flowker used it, takes the tracer from the caller's span or the global
// provider). direct: the real server's requests go to net/http's
// Transport itself, as the provider client's do (bodies in memory are then
// handed over as is: sendInMemory), not through bodyClosedFirst.
func runClientScript(t *testing.T, server *clientTestServer, v sdkmetric.View, direct bool,
	build func(http.RoundTripper, metric.MeterProvider) http.RoundTripper,
) clientRun {
	t.Helper()
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder), sdktrace.WithIDGenerator(&sequentialIDs{}))
	reader := sdkmetric.NewManualReader()
	mpOpts := []sdkmetric.Option{sdkmetric.WithReader(reader)}
	if v != nil {
		mpOpts = append(mpOpts, sdkmetric.WithView(v))
	}
	mp := sdkmetric.NewMeterProvider(mpOpts...)
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	otel.SetTracerProvider(tp)

	stub := &stubProvider{}
	network := &http.Transport{DisableKeepAlives: true} // no stale-connection retries
	t.Cleanup(network.CloseIdleConnections)
	rt, stubRT := build(bodyClosedFirst{network}, mp), build(stub, mp)
	if direct {
		rt = build(network, mp)
	}
	run := clientRun{}
	logf := func(format string, args ...any) { run.log = append(run.log, fmt.Sprintf(format, args...)) }
	ended := func() int { return len(recorder.Ended()) } // when spans end is compared too
	send := func(what string, rt http.RoundTripper, req *http.Request, read string) {
		res, err := rt.RoundTrip(req)
		logf("%s: %s", what, outcome(res, err, read, ended))
		run.log = append(run.log, server.drain()...)
		run.log = append(run.log, stub.drain()...)
	}
	bg := context.Background()
	remote := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0xa, 1}, SpanID: trace.SpanID{0xb, 2},
		TraceFlags: trace.FlagsSampled, Remote: true})
	member, err := baggage.NewMember("tenant", "acme")
	require.NoError(t, err)
	bag, err := baggage.New(member)
	require.NoError(t, err)
	withParent := func(ctx context.Context, name string) (context.Context, func()) {
		ctx, span := tp.Tracer("flowker/test").Start(ctx, name)
		return ctx, func() { span.End() }
	}
	newReq := func(ctx context.Context, method, target string, body io.Reader) *http.Request {
		req, err := http.NewRequestWithContext(ctx, method, target, body)
		require.NoError(t, err)
		return req
	}

	// A real server.
	send("no parent", rt, newReq(bg, http.MethodGet, server.url+"/ok?api_key=k", nil), "all")
	ctx, end := withParent(bg, "command.execution.execute_executor_node")
	send("404 under a parent", rt, newReq(ctx, http.MethodGet, server.url+"/missing", nil), "all")
	send("500 with a body, baggage", rt,
		newReq(baggage.ContextWithBaggage(ctx, bag), http.MethodPost, server.url+"/fail", strings.NewReader(`{"amount":1}`)), "all")
	send("201 echo", rt, newReq(ctx, http.MethodPost, server.url+"/echo", bytes.NewReader([]byte(`{"a":"b"}`))), "all")
	send("HEAD", rt, newReq(ctx, http.MethodHead, server.url+"/ok", nil), "close")
	send("closed unread", rt, newReq(ctx, http.MethodGet, server.url+"/ok", nil), "close")
	send("partly read", rt, newReq(ctx, http.MethodGet, server.url+"/ok", nil), "partial")
	send("credentials in the URL", rt, newReq(ctx, http.MethodGet, strings.Replace(server.url, "://", "://user:pw@", 1)+"/ok", nil), "all")
	send("refused, with a body", rt, newReq(ctx, http.MethodPost, "http://127.0.0.1:1/x?api_key=k", strings.NewReader("abc")), "all")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	send("cancelled", rt, newReq(cancelled, http.MethodGet, server.url+"/ok", nil), "all")
	res, err := (&http.Client{Transport: rt}).Do(newReq(ctx, http.MethodGet, server.url+"/redirect", nil))
	logf("redirected: %s", outcome(res, err, "all", ended))
	run.log = append(run.log, server.drain()...)
	end()
	withTraceState, err := trace.ParseTraceState("vendor=x")
	require.NoError(t, err)
	remoteCtx := baggage.ContextWithBaggage(trace.ContextWithRemoteSpanContext(bg, remote.WithTraceState(withTraceState)), bag)
	send("remote parent only", rt, newReq(remoteCtx, http.MethodPost, server.url+"/echo", strings.NewReader("x")), "all")
	unsampled, end := withParent(trace.ContextWithRemoteSpanContext(bg, remote.WithTraceFlags(0)), "unsampled")
	send("unsampled parent", rt, newReq(unsampled, http.MethodGet, server.url+"/ok", nil), "all")
	end()
	if direct { // recorded once net/http's writer is done with a body, maybe after the response: wait for all 14
		require.Eventually(t, func() bool { n, _ := bodySizes(t, reader); return n == 14 }, 5*time.Second, time.Millisecond,
			"the real server's round trips measured before the stub's snapshots")
	}

	// The stub: what a real server cannot easily produce.
	ctx, end = withParent(bg, "stubbed")
	for _, c := range stubRequests() {
		req := newReq(ctx, c.method, "http://stub.example"+c.path, c.body)
		c.shape(req)
		send(c.name, stubRT, req, c.read)
		if c.path == "/late-close" { // the metrics wait for the request body's close
			for _, point := range summarizeMetrics(t, reader) {
				logf("before the close: %s", point)
			}
			stub.closeLate()
		}
	}
	end()

	run.spans = summarizeSpans(recorder.Ended())
	run.metrics = summarizeMetrics(t, reader)
	return run
}

// bodyClosedFirst returns a response once the transport closed the
// request's body. net/http writes a body it cannot tell is in memory (the
// instrumentations' wrappers) straight to the socket and closes it a moment
// later, on its write goroutine: the metrics, recorded at that close, could
// otherwise lag the response by a few microseconds, differently in each
// run. (The stub's "late close" request covers a close after the response.)
type bodyClosedFirst struct{ next http.RoundTripper }

func (b bodyClosedFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return b.next.RoundTrip(r)
	}
	closed := make(chan struct{})
	out := *r
	out.Body = &closeSignal{ReadCloser: r.Body, closed: closed}
	res, err := b.next.RoundTrip(&out)
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // then the comparison tells
	}
	return res, err
}

type closeSignal struct {
	io.ReadCloser
	closed chan struct{}
	once   sync.Once
}

func (c *closeSignal) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(func() { close(c.closed) })
	return err
}

// outcome reads the response as told and describes what the caller saw,
// and how many spans had ended at each step.
func outcome(res *http.Response, err error, read string, ended func() int) string {
	if err != nil {
		s := fmt.Sprintf("error %s ended=%d", err, ended())
		if res != nil {
			s += fmt.Sprintf(" with a %d response", res.StatusCode)
		}
		return s
	}
	endedAtReturn := ended()
	var writeErr error
	w, writable := res.Body.(io.Writer)
	if writable {
		_, writeErr = w.Write([]byte("x"))
	}
	var body []byte
	var readErr error
	switch read {
	case "all":
		body, readErr = io.ReadAll(res.Body)
	case "partial":
		body = make([]byte, 1)
		_, readErr = res.Body.Read(body)
	}
	endedAfterRead := ended()
	closeErr := res.Body.Close()
	return fmt.Sprintf("%d %s body=%q readErr=%v closeErr=%v writable=%t writeErr=%v ended=%d/%d/%d", res.StatusCode, res.Proto, body,
		readErr, closeErr, writable, writeErr, endedAtReturn, endedAfterRead, ended())
}

func summarizeSpans(spans []sdktrace.ReadOnlySpan) []spanSummary {
	out := make([]spanSummary, 0, len(spans))
	for _, s := range spans {
		sum := spanSummary{Name: s.Name(), Kind: s.SpanKind(), Context: fmt.Sprint(s.SpanContext()), Parent: fmt.Sprint(s.Parent()),
			Attributes: s.Attributes(), Status: s.Status(), Links: len(s.Links()), Dropped: s.DroppedAttributes(),
			ChildSpanCount: s.ChildSpanCount(), Scope: s.InstrumentationScope().Name + "@" + s.InstrumentationScope().Version}
		for _, e := range s.Events() {
			sum.Events = append(sum.Events, fmt.Sprintf("%s %v", e.Name, e.Attributes))
		}
		out = append(out, sum)
	}
	return out
}

// summarizeMetrics describes every data point, sorted: all but the
// durations' values, which are timings. An exemplar's ids are compared
// where a point has one measurement: with several, which one a bucket
// keeps is the SDK's random pick.
func summarizeMetrics(t *testing.T, r *sdkmetric.ManualReader) []string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			head := fmt.Sprintf("%s@%s %s unit=%q desc=%q", sm.Scope.Name, sm.Scope.Version, m.Name, m.Unit, m.Description)
			switch data := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					point := fmt.Sprintf("%s %s %v count=%d bounds=%v", head, data.Temporality, dp.Attributes.ToSlice(), dp.Count, dp.Bounds)
					if dp.Count == 1 {
						point += " exemplar=" + exemplarIDs(dp.Exemplars)
					}
					out = append(out, point)
				}
			case metricdata.Histogram[int64]:
				for _, dp := range data.DataPoints {
					point := fmt.Sprintf("%s %s %v count=%d bounds=%v buckets=%v sum=%d min=%v max=%v exemplars=%d", head,
						data.Temporality, dp.Attributes.ToSlice(), dp.Count, dp.Bounds, dp.BucketCounts, dp.Sum, dp.Min, dp.Max,
						len(dp.Exemplars))
					if dp.Count == 1 {
						point += " exemplar=" + exemplarIDs(dp.Exemplars)
					}
					out = append(out, point)
				}
			default:
				out = append(out, fmt.Sprintf("%s unexpected %T", head, data))
			}
		}
	}
	slices.Sort(out)
	return out
}

func exemplarIDs[N int64 | float64](es []metricdata.Exemplar[N]) string {
	ids := make([]string, 0, len(es))
	for _, e := range es {
		ids = append(ids, fmt.Sprintf("%x/%x%v", e.TraceID, e.SpanID, e.FilteredAttributes))
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}
