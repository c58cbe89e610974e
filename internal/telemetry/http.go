package telemetry

import (
	"context"
	"net/http"
	"strings"

	"github.com/gofiber/contrib/otelfiber/v2"
	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// ProbePaths are the Kubernetes probe routes. They get no server span
// (kubelets poll them every few seconds; their traces would drown the
// useful ones) but keep their http.server.* metrics.
var ProbePaths = []string{"/health/live", "/health/ready", "/readyz"}

// HTTPMiddleware is otelfiber on the global providers: a server span per
// request named "<METHOD> <route template>" (e.g. GET /v1/workflows/:id),
// the W3C context of the caller continued, and the http.server.duration,
// http.server.request.size, http.server.response.size and
// http.server.active_requests metrics. Requests to noSpanPaths (compared
// case-insensitively, trailing slash ignored, like Fiber's routing) are
// measured but not traced.
//
// With telemetry disabled (Setup not called with ENABLE_TELEMETRY=true
// before this), otelfiber is left out altogether — even on no-op providers
// it costs tens of microseconds and dozens of allocations per request — and
// only a caller's W3C trace context is taken over, so logs and stored
// executions still name the caller's trace.
func HTTPMiddleware(noSpanPaths ...string) fiber.Handler {
	if !enabled.Load() {
		return continueTrace(otel.GetTextMapPropagator())
	}
	return httpMiddleware(otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator(), noSpanPaths)
}

// continueTrace puts the caller's trace context, if it sent one, into the
// request's context.
func continueTrace(prop propagation.TextMapPropagator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(c.Request().Header.Peek("traceparent")) > 0 {
			c.SetUserContext(prop.Extract(c.UserContext(), requestCarrier{c}))
		}
		return c.Next()
	}
}

// requestCarrier reads a Fiber request's headers for a propagator, copying
// the values (Fiber's are only valid during the handler).
type requestCarrier struct{ c *fiber.Ctx }

func (r requestCarrier) Get(key string) string { return string(r.c.Request().Header.Peek(key)) }
func (requestCarrier) Set(string, string)      {}
func (requestCarrier) Keys() []string          { return nil }

func httpMiddleware(tp trace.TracerProvider, mp metric.MeterProvider, prop propagation.TextMapPropagator, noSpanPaths []string) fiber.Handler {
	skip := make(map[string]bool, len(noSpanPaths))
	for _, p := range noSpanPaths {
		skip[normalizePath(p)] = true
	}
	return otelfiber.Middleware(
		otelfiber.WithTracerProvider(spanSkipper{tp: tp, skip: skip}),
		otelfiber.WithMeterProvider(mp),
		otelfiber.WithPropagators(prop),
		otelfiber.WithSpanNameFormatter(func(c *fiber.Ctx) string { return c.Method() + " " + c.Route().Path }),
	)
}

func normalizePath(p string) string {
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	return strings.ToLower(p)
}

// spanSkipper starts no span for the skipped names. otelfiber opens the
// server span under the request's raw path (and renames it to the route
// once the handler ran), which is what is matched here.
type spanSkipper struct {
	embedded.TracerProvider
	tp   trace.TracerProvider
	skip map[string]bool
}

func (s spanSkipper) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return skippingTracer{next: s.tp.Tracer(name, opts...), skip: s.skip}
}

type skippingTracer struct {
	embedded.Tracer
	next trace.Tracer
	skip map[string]bool
}

var noSpans = noop.NewTracerProvider().Tracer("")

func (t skippingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if t.skip[normalizePath(name)] {
		return noSpans.Start(ctx, name, opts...)
	}
	return t.next.Start(ctx, name, opts...)
}

// HTTPTransport wraps base (provider.NewTransport's SSRF-safe transport)
// with otelhttp: each outgoing provider call is a client span, child of the
// caller's span, and carries traceparent (and baggage). URLs and errors on
// these spans are redacted at export (redact.go).
func HTTPTransport(base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(base)
}
