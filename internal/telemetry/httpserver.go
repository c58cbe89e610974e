package telemetry

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/otelfiber/v2"
	"github.com/gofiber/fiber/v2"
	otelcontrib "go.opentelemetry.io/contrib"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.12.0"
	"go.opentelemetry.io/otel/trace"
)

// serverTelemetry is the HTTP server instrumentation: a server span and the
// four http.server.* metrics per request. It emits exactly what otelfiber
// v2.1.1 emitted here, as Setup's view shaped it (net.host.name off the
// metrics: client-chosen, so never recorded there): the same
// instrumentation scope, instrument names, kinds, units and descriptions,
// the same span name, kind, attributes, status and exception event, the
// same metric attribute sets, the caller's traceparent/tracestate/baggage
// continued and traceparent answered. http_equivalence_test.go runs both on
// the same requests and compares every span and data point; the collector
// test (cmd/flowker/otel_test.go) checks what arrives.
//
// What it leaves out is otelfiber's work that produced nothing: copying
// every request header into an http.Header to read three of them, five
// attribute sets built, sorted and hashed per request (and filtered again
// by the view), a header map for the response's traceparent, copies of
// strings that are already copies. The metric attribute sets are built once
// per method, scheme, protocol, route and status (attrcache.go). Also not
// kept, being no telemetry: otelfiber cancelled the handlers' context when
// the request ended and stored its tracer in the request's locals (with
// telemetry off neither ever happened, and nothing relies on them).
type serverTelemetry struct {
	tracer      trace.Tracer
	prop        propagation.TextMapPropagator
	noSpanPaths map[string]bool

	activeRequests metric.Int64UpDownCounter
	duration       metric.Float64Histogram
	requestSize    metric.Int64Histogram
	responseSize   metric.Int64Histogram

	atRequest  boundedCache[requestLabels, measurementOpts]
	atResponse boundedCache[responseLabels, responseOpts]
}

// The descriptions otelfiber v2.1.1 gives its instruments.
const (
	descServerDuration       = "measures the duration inbound HTTP requests"
	descServerRequestSize    = "measures the size of HTTP request messages"
	descServerResponseSize   = "measures the size of HTTP response messages"
	descServerActiveRequests = "measures the number of concurrent HTTP requests that are currently in-flight"
)

// requestLabels are the metric attributes known before the handler runs
// (http.server.active_requests carries only these).
type requestLabels struct {
	method, scheme string
	http11         bool
}

// responseLabels add the route and status, known once the handler ran.
type responseLabels struct {
	requestLabels
	route  string
	status int
}

// responseOpts is the cached set of a response, and its span name.
type responseOpts struct {
	measurementOpts
	spanName string // "<METHOD> <route>"
}

func newServerTelemetry(tp trace.TracerProvider, mp metric.MeterProvider, prop propagation.TextMapPropagator, noSpanPaths []string) *serverTelemetry {
	s := &serverTelemetry{
		tracer:      tp.Tracer(otelfiberScope, trace.WithInstrumentationVersion(otelcontrib.Version())),
		prop:        prop,
		noSpanPaths: make(map[string]bool, len(noSpanPaths)),
	}
	for _, p := range noSpanPaths {
		s.noSpanPaths[normalizePath(p)] = true
	}
	meter := mp.Meter(otelfiberScope, metric.WithInstrumentationVersion(otelcontrib.Version()))
	var err error
	// Errors are reported, not returned, as otelfiber did: the instrument
	// returned with an error is still usable (a no-op at worst).
	if s.duration, err = meter.Float64Histogram(otelfiber.MetricNameHttpServerDuration,
		metric.WithUnit(otelfiber.UnitMilliseconds), metric.WithDescription(descServerDuration)); err != nil {
		otel.Handle(err)
	}
	if s.requestSize, err = meter.Int64Histogram(otelfiber.MetricNameHttpServerRequestSize,
		metric.WithUnit(otelfiber.UnitBytes), metric.WithDescription(descServerRequestSize)); err != nil {
		otel.Handle(err)
	}
	if s.responseSize, err = meter.Int64Histogram(otelfiber.MetricNameHttpServerResponseSize,
		metric.WithUnit(otelfiber.UnitBytes), metric.WithDescription(descServerResponseSize)); err != nil {
		otel.Handle(err)
	}
	if s.activeRequests, err = meter.Int64UpDownCounter(otelfiber.MetricNameHttpServerActiveRequests,
		metric.WithUnit(otelfiber.UnitDimensionless), metric.WithDescription(descServerActiveRequests)); err != nil {
		otel.Handle(err)
	}
	return s
}

// serverSpanStart starts every server span; built once, it costs no
// allocation per request.
var serverSpanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// spanAttrs holds a request's span attributes until they are handed to the
// span, which copies them; pooled, so that buffer is not allocated per
// request.
type spanAttrs struct {
	kv [maxServerSpanAttrs]attribute.KeyValue
}

// maxServerSpanAttrs: 11 known at the start, 3 once the handler ran.
const maxServerSpanAttrs = 14

var spanAttrsPool = sync.Pool{New: func() any { return new(spanAttrs) }}

// handle serves one request inside its server span.
func (s *serverTelemetry) handle(c *fiber.Ctx) error {
	// Metrics are recorded on the context the request came with, not the
	// span's: as with otelfiber, measurements carry no exemplar.
	base := c.UserContext()
	start := time.Now()
	immutable := c.App().Config().Immutable // else fiber's strings are views of reused buffers
	labels := requestLabels{method: internMethod(c.Method()), scheme: internScheme(c.Protocol()),
		http11: c.Request().Header.IsHTTP11()}
	req := s.atRequest.get(labels, requestOpts)
	s.activeRequests.Add(base, 1, req.add...)

	buf := spanAttrsPool.Get().(*spanAttrs)
	span, attrs := s.startSpan(base, c, labels, immutable, buf)
	// Deferred by itself: End records a panic crossing this middleware as
	// an exception event, which it can only recover to see when it is the
	// deferred call.
	defer span.End()
	finished := false
	defer func() {
		if !finished { // a panic crossed this middleware: the span still gets what was known
			span.SetAttributes(attrs...)
		}
	}()

	if err := c.Next(); err != nil {
		span.RecordError(err)
		// The application's error handler writes the response now, so the
		// span and the metrics see the status the client gets.
		_ = c.App().Config().ErrorHandler(c, err)
	}

	status := c.Response().StatusCode()
	route := c.Route().Path
	requestSize := int64(len(c.Request().Body()))
	responseSize := int64(len(c.Response().Body()))
	resp := s.atResponse.get(responseLabels{requestLabels: labels, route: route, status: status}, newResponseOpts)
	s.finishSpan(c, span, attrs, resp.spanName, labels.method, route, status, responseSize)
	finished = true
	*buf = spanAttrs{} // drop the references before pooling
	spanAttrsPool.Put(buf)

	s.activeRequests.Add(base, -1, req.add...)
	s.duration.Record(base, float64(time.Since(start).Microseconds())/1000, resp.record...)
	s.requestSize.Record(base, requestSize, resp.record...)
	s.responseSize.Record(base, responseSize, resp.record...)
	c.SetUserContext(base)
	return nil
}

// startSpan continues the caller's trace in a server span (none for the
// paths excluded from tracing) and hands it to the handlers. The request's
// attributes are read now, into buf (what a handler does to the request
// must not change them), but given to the span with the response's, in
// one call: the span then copies them once. So the span starts without
// them and the sampler does not see them; none of the SDK's samplers
// (OTEL_TRACES_SAMPLER) looks at attributes, and the exported span is the
// same. It is named after the raw path until the route is known, as
// otelfiber does.
func (s *serverTelemetry) startSpan(base context.Context, c *fiber.Ctx, labels requestLabels, immutable bool,
	buf *spanAttrs,
) (trace.Span, []attribute.KeyValue) {
	ctx := s.prop.Extract(base, requestCarrier{c})
	tracer := s.tracer
	path := c.Path()
	if s.noSpanPaths[normalizePath(path)] {
		tracer = noSpans
	}
	if !immutable {
		path = strings.Clone(path)
	}
	attrs := s.requestSpanAttributes(buf.kv[:0], c, labels, immutable)
	ctx, span := tracer.Start(ctx, path, serverSpanStart...)
	c.SetUserContext(ctx)
	return span, attrs
}

// finishSpan gives the span its attributes, its route name and its
// status, and answers the caller with the span's traceparent.
func (s *serverTelemetry) finishSpan(c *fiber.Ctx, span trace.Span, attrs []attribute.KeyValue, name, method, route string,
	status int, responseSize int64,
) {
	span.SetAttributes(append(attrs, semconv.HTTPStatusCodeKey.Int(status), semconv.HTTPRouteKey.String(route),
		semconv.HTTPResponseContentLengthKey.Int64(responseSize))...)
	if now := c.Method(); now != method { // a handler overrode the method
		name = now + " " + route
	}
	span.SetName(name)
	span.SetStatus(semconv.SpanStatusFromHTTPStatusCodeAndSpanKind(status, trace.SpanKindServer))
	s.prop.Inject(c.UserContext(), responseCarrier{c})
}

// requestSpanAttributes appends to attrs otelfiber's span attributes known
// at the start, in its order. Strings outlive the request (the span is
// exported later), so none may be a view of fasthttp's buffers.
func (s *serverTelemetry) requestSpanAttributes(attrs []attribute.KeyValue, c *fiber.Ctx, l requestLabels, immutable bool) []attribute.KeyValue {
	// RequestURI re-encodes a parsed URI and stores the result as the
	// request's URI: http.target and http.url are the same normalised text.
	target := string(c.Request().RequestURI())
	host := c.Hostname()
	if !immutable {
		host = strings.Clone(host)
	}
	attrs = append(attrs,
		flavorAttribute(l.http11),
		semconv.HTTPMethodKey.String(l.method),
		semconv.HTTPRequestContentLengthKey.Int(c.Request().Header.ContentLength()),
		semconv.HTTPSchemeKey.String(l.scheme),
		semconv.HTTPTargetKey.String(target),
		semconv.HTTPURLKey.String(target),
		semconv.HTTPUserAgentKey.String(string(c.Request().Header.UserAgent())),
		semconv.NetHostNameKey.String(host),
		semconv.NetTransportTCP,
	)
	if auth := c.Request().Header.Peek(fiber.HeaderAuthorization); len(auth) > 0 {
		// The user name is a slice of a freshly decoded buffer: no view.
		if user, ok := otelfiber.HasBasicAuth(string(auth)); ok {
			attrs = append(attrs, semconv.EnduserIDKey.String(user))
		}
	}
	if ip := c.IP(); ip != "" {
		if !immutable {
			ip = strings.Clone(ip)
		}
		attrs = append(attrs, semconv.HTTPClientIPKey.String(ip))
	}
	return attrs
}

func flavorAttribute(http11 bool) attribute.KeyValue {
	if http11 {
		return semconv.HTTPFlavorHTTP11
	}
	return semconv.HTTPFlavorHTTP10
}

func requestOpts(l requestLabels) measurementOpts {
	return newMeasurementOpts(flavorAttribute(l.http11), semconv.HTTPMethodKey.String(l.method),
		semconv.HTTPSchemeKey.String(l.scheme))
}

func newResponseOpts(l responseLabels) responseOpts {
	return responseOpts{
		measurementOpts: newMeasurementOpts(flavorAttribute(l.http11), semconv.HTTPMethodKey.String(l.method),
			semconv.HTTPSchemeKey.String(l.scheme), semconv.HTTPStatusCodeKey.Int(l.status),
			semconv.HTTPRouteKey.String(l.route)),
		spanName: l.method + " " + l.route,
	}
}

// internMethod returns the standard methods as constants (no copy, and a
// safe cache key); anything else is copied.
func internMethod(m string) string {
	for _, known := range fiber.DefaultMethods {
		if m == known {
			return known
		}
	}
	return strings.Clone(m)
}

// internScheme does the same for the scheme, which a trusted proxy's
// X-Forwarded-Proto may set to anything.
func internScheme(scheme string) string {
	switch scheme {
	case "http":
		return "http"
	case "https":
		return "https"
	}
	return strings.Clone(scheme)
}
