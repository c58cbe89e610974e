package telemetry

import (
	"context"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Per-request cost of the HTTP telemetry middleware, on a Fiber app
// configured like Flowker's (Immutable) serving a trivial handler:
//
//	go test -run '^$' -bench HTTP -benchmem -count 5 ./internal/telemetry/
//
// Bare: no middleware. Disabled: telemetry off (continueTrace). Otelfiber
// and Lean: telemetry on, on SDK providers as Setup builds them (batch span
// processor with the redacting exporter, periodic reader, Setup's view),
// exporting to exporters that discard. Each request carries a traceparent,
// as a traced caller's would.

type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

type discardMetrics struct{}

func (discardMetrics) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (discardMetrics) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}
func (discardMetrics) Export(context.Context, *metricdata.ResourceMetrics) error { return nil }
func (discardMetrics) ForceFlush(context.Context) error                          { return nil }
func (discardMetrics) Shutdown(context.Context) error                            { return nil }

// benchProviders are SDK providers shaped like Setup's, exporting nowhere.
// v is the meter provider's view: view, or otelfiberView for otelfiber.
func benchProviders(b *testing.B, v sdkmetric.View) (*sdktrace.TracerProvider, *sdkmetric.MeterProvider) {
	b.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(redactingExporter{discardSpans{}}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(discardMetrics{})), sdkmetric.WithView(v))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return tp, mp
}

func benchHTTP(b *testing.B, mw fiber.Handler) {
	app := fiber.New(fiber.Config{Immutable: true})
	if mw != nil {
		app.Use(mw)
	}
	app.Get("/v1/workflows/:id", func(c *fiber.Ctx) error { return c.SendString("{}") })
	h := app.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(http.MethodGet)
	ctx.Request.SetRequestURI("/v1/workflows/0193abcd-0000-7000-8000-000000000000")
	ctx.Request.Header.Set("Host", "flowker.example")
	ctx.Request.Header.Set("User-Agent", "bench")
	ctx.Request.Header.Set("Accept", "application/json")
	ctx.Request.Header.Set("X-API-Key", "bench-key")
	ctx.Request.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	b.ReportAllocs()
	for b.Loop() {
		ctx.ResetUserValues() // a fresh request context each time, as the server's
		h(&ctx)
	}
}

func BenchmarkHTTPBare(b *testing.B) { benchHTTP(b, nil) }

func BenchmarkHTTPDisabled(b *testing.B) { benchHTTP(b, continueTrace(Propagator())) }

func BenchmarkHTTPOtelfiber(b *testing.B) {
	tp, mp := benchProviders(b, otelfiberView)
	benchHTTP(b, otelfiberMiddleware(tp, mp, Propagator(), ProbePaths))
}

func BenchmarkHTTPLean(b *testing.B) {
	tp, mp := benchProviders(b, view)
	benchHTTP(b, httpMiddleware(tp, mp, Propagator(), ProbePaths))
}
