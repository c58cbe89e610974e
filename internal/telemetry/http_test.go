package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// testProviders are SDK providers recording in memory, with Setup's view.
func testProviders(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder, *sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(view))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return tp, rec, mp, reader
}

func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

func attrMap(s attribute.Set) map[string]string {
	out := map[string]string{}
	for _, kv := range s.ToSlice() {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

func TestHTTPMiddlewareSpansAndMetrics(t *testing.T) {
	t.Parallel()
	tp, rec, mp, reader := testProviders(t)
	var handlerSpan trace.SpanContext
	app := fiber.New()
	app.Use(httpMiddleware(tp, mp, Propagator(), ProbePaths))
	app.Get("/v1/workflows/:id", func(c *fiber.Ctx) error {
		handlerSpan = trace.SpanContextFromContext(c.UserContext())
		return c.SendString("workflow")
	})
	app.Get("/health/live", func(c *fiber.Ctx) error { return c.SendString("alive") })
	app.Post("/v1/workflows", func(*fiber.Ctx) error { return fiber.NewError(http.StatusInternalServerError, "boom") })

	// A caller's trace is continued.
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/v1/workflows/0193?limit=5", nil)
	req.Header.Set("Host", "attacker-chosen.example")
	propagation.TraceContext{}.Inject(trace.ContextWithRemoteSpanContext(context.Background(), parent), propagation.HeaderCarrier(req.Header))
	status := func(req *http.Request) int {
		resp, err := app.Test(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, status(req))
	for _, p := range []string{"/health/live", "/Health/Live/"} {
		require.Equal(t, http.StatusOK, status(httptest.NewRequestWithContext(t.Context(), http.MethodGet, p, nil)))
	}
	require.Equal(t, http.StatusInternalServerError,
		status(httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/workflows", strings.NewReader(`{"name":"x"}`))))

	spans := rec.Ended()
	require.Len(t, spans, 2, "probes make no span")
	get := spans[0]
	require.Equal(t, "GET /v1/workflows/:id", get.Name(), "named after the route template")
	require.Equal(t, trace.SpanKindServer, get.SpanKind())
	require.Equal(t, parent.TraceID(), get.SpanContext().TraceID())
	require.Equal(t, parent.SpanID(), get.Parent().SpanID())
	require.Equal(t, get.SpanContext().SpanID(), handlerSpan.SpanID(), "handlers see the server span in UserContext")
	require.Equal(t, "POST /v1/workflows", spans[1].Name())
	require.Equal(t, "Error", spans[1].Status().Code.String())

	m := collect(t, reader)
	for name, unit := range map[string]string{
		"http.server.duration": "ms", "http.server.request.size": "By",
		"http.server.response.size": "By", "http.server.active_requests": "1",
	} {
		require.Contains(t, m, name)
		require.Equal(t, unit, m[name].Unit, name)
	}
	dur, ok := m["http.server.duration"].Data.(metricdata.Histogram[float64])
	require.True(t, ok)
	routes := map[string]bool{}
	for _, dp := range dur.DataPoints {
		a := attrMap(dp.Attributes)
		routes[a["http.method"]+" "+a["http.route"]+" "+a["http.status_code"]] = true
		require.NotContains(t, a, "net.host.name", "the client's Host header is not a label")
		require.Equal(t, LatencyBucketsMS, dp.Bounds, "the shared latency buckets")
	}
	require.Equal(t, map[string]bool{
		"GET /v1/workflows/:id 200": true, "GET /health/live 200": true, "POST /v1/workflows 500": true,
	}, routes, "probes keep their metrics")
	size, ok := m["http.server.request.size"].Data.(metricdata.Histogram[int64])
	require.True(t, ok)
	require.Equal(t, SizeBucketsBytes, size.DataPoints[0].Bounds)
	active, ok := m["http.server.active_requests"].Data.(metricdata.Sum[int64])
	require.True(t, ok)
	for _, dp := range active.DataPoints {
		require.Zero(t, dp.Value, "every request left: %v", attrMap(dp.Attributes))
		require.Contains(t, attrMap(dp.Attributes), "http.method")
	}
}

func TestViewBucketsForEveryLatencyHistogram(t *testing.T) {
	t.Parallel()
	_, _, mp, reader := testProviders(t)
	meter := mp.Meter("any")
	msHist, err := meter.Float64Histogram("a.duration", metricUnit("ms"))
	require.NoError(t, err)
	sHist, err := meter.Float64Histogram("b.duration", metricUnit("s"))
	require.NoError(t, err)
	other, err := meter.Float64Histogram("c.ratio", metricUnit("1"))
	require.NoError(t, err)
	msHist.Record(context.Background(), 3)
	sHist.Record(context.Background(), 0.003)
	other.Record(context.Background(), 0.5)

	m := collect(t, reader)
	bounds := func(name string) []float64 {
		h, ok := m[name].Data.(metricdata.Histogram[float64])
		require.True(t, ok, name)
		return h.DataPoints[0].Bounds
	}
	require.Equal(t, LatencyBucketsMS, bounds("a.duration"))
	seconds := bounds("b.duration")
	require.Len(t, seconds, len(LatencyBucketsMS))
	for i := range seconds {
		require.InDelta(t, LatencyBucketsMS[i]/1000, seconds[i], 1e-12)
	}
	require.NotEqual(t, LatencyBucketsMS, bounds("c.ratio"), "other units keep the SDK default")
}

func metricUnit(u string) metric.Float64HistogramOption { return metric.WithUnit(u) }

func TestDisabledMiddlewareOnlyContinuesTheCallersTrace(t *testing.T) {
	t.Parallel()
	var got trace.SpanContext
	app := fiber.New()
	app.Use(continueTrace(Propagator()))
	app.Get("/x", func(c *fiber.Ctx) error {
		got = trace.SpanContextFromContext(c.UserContext())
		return c.SendStatus(http.StatusNoContent)
	})
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", nil)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	resp, err := app.Test(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, "0af7651916cd43dd8448eb211c80319c", got.TraceID().String())
	require.Equal(t, "b7ad6b7169203331", got.SpanID().String())
	require.True(t, got.IsRemote())

	resp, err = app.Test(httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", nil))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.False(t, got.IsValid(), "no traceparent, no trace")
}
