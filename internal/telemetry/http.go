package telemetry

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ProbePaths are the Kubernetes probe routes. They get no server span
// (kubelets poll them every few seconds; their traces would drown the
// useful ones) but keep their http.server.* metrics.
var ProbePaths = []string{"/health/live", "/health/ready", "/readyz"}

// HTTPMiddleware is the server instrumentation on the global providers
// (httpserver.go: what otelfiber emitted, at a fraction of its cost): a
// server span per request named "<METHOD> <route template>" (e.g.
// GET /v1/workflows/:id), the W3C context of the caller continued, and the
// http.server.duration, http.server.request.size, http.server.response.size
// and http.server.active_requests metrics. Requests to noSpanPaths
// (compared case-insensitively, trailing slash ignored, like Fiber's
// routing) are measured but not traced.
//
// With telemetry disabled (Setup not called with ENABLE_TELEMETRY=true
// before this), it only takes over a caller's W3C trace context, so logs
// and stored executions still name the caller's trace.
func HTTPMiddleware(noSpanPaths ...string) fiber.Handler {
	if !enabled.Load() {
		return continueTrace(otel.GetTextMapPropagator())
	}
	return httpMiddleware(otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator(), noSpanPaths)
}

func httpMiddleware(tp trace.TracerProvider, mp metric.MeterProvider, prop propagation.TextMapPropagator, noSpanPaths []string) fiber.Handler {
	return newServerTelemetry(tp, mp, prop, noSpanPaths).handle
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

func normalizePath(p string) string {
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	return strings.ToLower(p)
}

// noSpans stands in for the tracer on paths excluded from tracing: like
// any no-op tracer it carries the caller's span context on, recording
// nothing.
var noSpans = noop.NewTracerProvider().Tracer("")

// HTTPTransport wraps base (provider.NewTransport's SSRF-safe transport)
// with the provider calls' instrumentation on the global providers
// (httpclient.go: what otelhttp v0.72.0 emitted, for less): each outgoing
// call is a CLIENT span, child of the caller's span,
// carrying traceparent (and tracestate, baggage), measured by
// http.client.request.duration and http.client.request.body.size. URLs and
// errors on these spans are redacted at export (redact.go).
//
// With telemetry disabled (Setup not called with ENABLE_TELEMETRY=true
// before this), it only sends the caller's trace context on, so the
// provider still joins the caller's trace.
func HTTPTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if !enabled.Load() {
		return &propagatingTransport{base: base, prop: otel.GetTextMapPropagator()}
	}
	return newClientTransport(base, otel.GetMeterProvider(), otel.GetTextMapPropagator())
}
