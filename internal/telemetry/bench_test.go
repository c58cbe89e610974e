package telemetry

import (
	"context"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Per-request cost of the HTTP telemetry middleware:
//
//	go test -run '^$' -bench . ./internal/telemetry/

type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

func benchHTTP(b *testing.B, mw fiber.Handler) {
	app := fiber.New()
	if mw != nil {
		app.Use(mw)
	}
	app.Get("/v1/workflows/:id", func(c *fiber.Ctx) error { return c.SendString("{}") })
	h := app.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(http.MethodGet)
	ctx.Request.SetRequestURI("/v1/workflows/0193abcd-0000-7000-8000-000000000000")
	ctx.Request.Header.Set("User-Agent", "bench")
	b.ReportAllocs()
	for b.Loop() {
		ctx.ResetUserValues() // a fresh request context each time, as the server's
		h(&ctx)
	}
}

func BenchmarkHTTPNoMiddleware(b *testing.B) { benchHTTP(b, nil) }

func BenchmarkHTTPDisabled(b *testing.B) { benchHTTP(b, continueTrace(Propagator())) }

func BenchmarkHTTPEnabled(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(redactingExporter{discardSpans{}}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()), sdkmetric.WithView(view))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	benchHTTP(b, httpMiddleware(tp, mp, Propagator(), ProbePaths))
}
