package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
)

// TraceCarrier returns ctx's trace context as W3C headers (traceparent, and
// tracestate and baggage when present), to be stored with work that runs
// later on another goroutine or process — an execution row — so its spans
// join the trace of the request that created it. Empty when ctx carries no
// span.
func TraceCarrier(ctx context.Context) map[string]string {
	c := propagation.MapCarrier{}
	w3c.Inject(ctx, c)
	return c
}

// ContextFromCarrier returns ctx continued from a stored TraceCarrier: a
// span started from it is a child of the span that was current when the
// carrier was made. A nil or empty carrier returns ctx unchanged.
func ContextFromCarrier(ctx context.Context, carrier map[string]string) context.Context {
	if len(carrier) == 0 {
		return ctx
	}
	return w3c.Extract(ctx, propagation.MapCarrier(carrier))
}

// w3c is Propagator's, whatever is installed globally (Setup installs the
// same): what an execution row keeps does not depend on start-up order.
var w3c = Propagator()
