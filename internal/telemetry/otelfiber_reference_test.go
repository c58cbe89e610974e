package telemetry

import (
	"context"

	"github.com/gofiber/contrib/otelfiber/v2"
	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// otelfiberMiddleware is the HTTP instrumentation as Flowker configured
// otelfiber before serverTelemetry replaced it: the reference that
// http_equivalence_test.go compares serverTelemetry with, and the "before"
// of the benchmarks.
func otelfiberMiddleware(tp trace.TracerProvider, mp metric.MeterProvider, prop propagation.TextMapPropagator, noSpanPaths []string) fiber.Handler {
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

func (t skippingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if t.skip[normalizePath(name)] {
		return noSpans.Start(ctx, name, opts...)
	}
	return t.next.Start(ctx, name, opts...)
}

// otelfiberMetricAttributes are the attributes Setup's view used to keep on
// otelfiber's metrics: all but net.host.name, which otelfiber takes from the
// client's Host header.
var otelfiberMetricAttributes = map[attribute.Key]bool{
	"http.method": true, "http.route": true, "http.status_code": true, "http.scheme": true, "http.flavor": true,
}

// otelfiberView is Setup's view as it was with otelfiber: view, plus that
// attribute filter on otelfiber's instruments.
func otelfiberView(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
	s, matched := view(i)
	if i.Scope.Name == otelfiberScope {
		s.AttributeFilter = func(kv attribute.KeyValue) bool { return otelfiberMetricAttributes[kv.Key] }
		matched = true
	}
	return s, matched
}
