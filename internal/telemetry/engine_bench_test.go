package telemetry

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"
)

// What the engine's metric calls cost per call, on a real meter provider
// with Setup's view and a periodic reader, from a context carrying a sampled
// span (as the engine's do: the SDK then offers exemplars):
//
//	go test -run '^$' -bench Engine -benchmem ./internal/telemetry/

// engineMetricsOnSDK are EngineMetrics on such a provider, and a context
// like the engine's.
func engineMetricsOnSDK(tb testing.TB) (*EngineMetrics, context.Context) {
	tb.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(discardMetrics{})), sdkmetric.WithView(view))
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := newEngineMetrics(mp)
	if err != nil {
		tb.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	return m, trace.ContextWithSpanContext(context.Background(), sc)
}

// One execution of a one-step workflow: started, a step, a provider call,
// finished.
func BenchmarkEngineMetricsPerExecution(b *testing.B) {
	m, ctx := engineMetricsOnSDK(b)
	b.ReportAllocs()
	for b.Loop() {
		m.ExecutionStarted(ctx, "0193abcd-0000-7000-8000-000000000001")
		m.ProviderCall(ctx, "tracer", "success", 200, 2*time.Millisecond)
		m.StepFinished(ctx, "tracer.validate-transaction", "completed", 3*time.Millisecond)
		m.ExecutionFinished(ctx, "0193abcd-0000-7000-8000-000000000001", "completed", 4*time.Millisecond)
	}
}

// The same measurements as the engine recorded them before the attribute
// sets were cached: a set built on every call (metric.WithAttributes).
func BenchmarkEngineMetricsPerExecutionUncached(b *testing.B) {
	m, ctx := engineMetricsOnSDK(b)
	b.ReportAllocs()
	for b.Loop() {
		m.started.Add(ctx, 1, metric.WithAttributes(attribute.String(FieldWorkflowID, "0193abcd-0000-7000-8000-000000000001")))
		m.provider.Record(ctx, 2, metric.WithAttributes(attribute.String("target", "tracer"),
			attribute.String("outcome", "success"), attribute.Int("http.status_code", 200)))
		m.stepDuration.Record(ctx, 3, metric.WithAttributes(
			attribute.String(FieldExecutorID, "tracer.validate-transaction"), attribute.String("status", "completed")))
		attrs := metric.WithAttributes(attribute.String(FieldWorkflowID, "0193abcd-0000-7000-8000-000000000001"),
			attribute.String("status", "completed"))
		m.finished.Add(ctx, 1, attrs)
		m.execDuration.Record(ctx, 4, attrs)
	}
}
