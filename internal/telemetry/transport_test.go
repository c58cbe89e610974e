package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"flowker/internal/provider"
)

// The wiring of cmd/flowker: the client instrumentation around the
// SSRF-safe transport, on the global providers and propagator.
func TestProviderCallsCarryTraceparent(t *testing.T) { // not parallel: replaces globals
	restoreGlobals(t)
	withTelemetry(t, true) // as Setup leaves it
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator())

	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("traceparent")
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	opts := provider.Options{AllowPrivate: true} // httptest listens on loopback
	opts.Transport = HTTPTransport(provider.NewTransport(opts))
	client := provider.New(opts)

	ctx, parent := tp.Tracer("t").Start(context.Background(), "command.execution.execute_executor_node")
	resp, err := client.Do(ctx, provider.Request{URL: srv.URL + "/validate?api_key=k", Method: http.MethodPost})
	parent.End()
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	header := <-got
	require.NotEmpty(t, header, "traceparent sent")
	var clientSpan sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			clientSpan = s
		}
	}
	require.NotNil(t, clientSpan, "the call is a client span")
	require.Equal(t, parent.SpanContext().SpanID(), clientSpan.Parent().SpanID(), "child of the caller's span")
	require.Equal(t, "00-"+clientSpan.SpanContext().TraceID().String()+"-"+clientSpan.SpanContext().SpanID().String()+"-01", header,
		"the provider sees the client span as its parent")

	// SSRF protection survives the wrapping: a private address is still refused without AllowPrivate.
	strict := provider.Options{}
	strict.Transport = HTTPTransport(provider.NewTransport(strict))
	_, err = provider.New(strict).Do(ctx, provider.Request{URL: srv.URL})
	var blocked *provider.BlockedError
	require.ErrorAs(t, err, &blocked)
}

// With telemetry off, the provider still receives the caller's trace
// context (the caller's own span is the parent), and no span is made.
func TestProviderCallsCarryTraceparentWithTelemetryOff(t *testing.T) { // not parallel: flips enabled
	restoreGlobals(t)
	withTelemetry(t, false)
	otel.SetTextMapPropagator(Propagator())

	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("traceparent")
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	opts := provider.Options{AllowPrivate: true}
	opts.Transport = HTTPTransport(provider.NewTransport(opts))
	client := provider.New(opts)

	caller := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	ctx := ContextFromCarrier(context.Background(), map[string]string{"traceparent": caller})
	_, err := client.Do(ctx, provider.Request{URL: srv.URL + "/validate", Method: http.MethodPost, Body: []byte(`{}`)})
	require.NoError(t, err)
	require.Equal(t, caller, <-got, "the caller's trace reaches the provider")
	_, err = client.Do(context.Background(), provider.Request{URL: srv.URL + "/validate"})
	require.NoError(t, err)
	require.Empty(t, <-got, "no trace, no traceparent")
}
