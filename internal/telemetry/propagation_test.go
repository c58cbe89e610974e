package telemetry

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestTraceCarrierRoundTrip(t *testing.T) { // not parallel: uses the global propagator
	restoreGlobals(t)
	otel.SetTextMapPropagator(Propagator())
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	ctx, span := tp.Tracer("t").Start(context.Background(), "POST /v1/workflows/:id/executions")
	carrier := TraceCarrier(ctx)
	span.End()
	require.Contains(t, carrier, "traceparent")

	// Later, on a worker: the execution's root span joins the request's trace.
	worker := ContextFromCarrier(context.Background(), carrier)
	_, root := tp.Tracer("t").Start(worker, "command.execution.execute")
	defer root.End()
	ro, ok := root.(sdktrace.ReadOnlySpan)
	require.True(t, ok)
	require.Equal(t, span.SpanContext().TraceID(), ro.SpanContext().TraceID())
	require.Equal(t, span.SpanContext().SpanID(), ro.Parent().SpanID())

	require.Empty(t, TraceCarrier(context.Background()))
	bg := context.Background()
	require.Equal(t, bg, ContextFromCarrier(bg, nil))
	require.False(t, trace.SpanContextFromContext(ContextFromCarrier(bg, map[string]string{})).IsValid())
}
