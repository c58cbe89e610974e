//go:build unix

package telemetry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// Per-call cost of the provider client's instrumentation: a provider call
// as the engine makes it (POST, a small JSON body, the response read and
// closed) to an httptest server on loopback, from a context carrying a
// sampled span:
//
//	go test -run '^$' -bench Client -benchmem -count 5 ./internal/telemetry/
//
// Bare: the base transport alone. Disabled: telemetry off
// (propagatingTransport; the caller's span context is remote, as the HTTP
// layer and the engine continue it then); OtelhttpOff: the same with
// otelhttp, as before. Otelhttp and Lean: telemetry on,
// the caller's span an SDK span, on SDK providers as Setup builds them
// (benchProviders: batch span processor with the redacting exporter,
// periodic reader, Setup's view) exporting to exporters that discard.
// Figures include the server's and net/http's own work, the same in all;
// cpu-ns/op is the process's user + system time per call (export goroutine
// and GC included), steadier than ns/op on a shared machine.

func benchClient(ctx context.Context, b *testing.B, wrap func(http.RoundTripper) http.RoundTripper) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"riskScore":42}`))
	}))
	b.Cleanup(srv.Close)
	base := &http.Transport{MaxIdleConnsPerHost: 4}
	b.Cleanup(base.CloseIdleConnections)
	rt := wrap(base)
	payload := []byte(`{"amount":2500,"currency":"BRL","account":"0193abcd-0000-7000-8000-000000000000"}`)
	target := srv.URL + "/score?api_key=bench"
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// remoteCaller is a context continued from a caller's traceparent.
func remoteCaller() context.Context {
	return trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0xa, 0xf7}, SpanID: trace.SpanID{0xb7, 0xad}, TraceFlags: trace.FlagsSampled, Remote: true}))
}

func BenchmarkClientBare(b *testing.B) {
	benchClient(remoteCaller(), b, func(rt http.RoundTripper) http.RoundTripper { return rt })
}

func BenchmarkClientDisabled(b *testing.B) {
	benchClient(remoteCaller(), b, func(rt http.RoundTripper) http.RoundTripper {
		return &propagatingTransport{base: rt, prop: Propagator()}
	})
}

// OtelhttpOff is what telemetry off cost before: otelhttp on the no-op
// providers (the caller's remote span gives the no-op tracer).
func BenchmarkClientOtelhttpOff(b *testing.B) {
	benchClient(remoteCaller(), b, func(rt http.RoundTripper) http.RoundTripper {
		return otelhttp.NewTransport(rt, otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), otelhttp.WithPropagators(Propagator()))
	})
}

func BenchmarkClientOtelhttp(b *testing.B) {
	tp, mp := benchProviders(b, view)
	ctx, span := tp.Tracer("flowker/engine").Start(remoteCaller(), "command.execution.execute_executor_node")
	b.Cleanup(func() { span.End() })
	benchClient(ctx, b, func(rt http.RoundTripper) http.RoundTripper {
		return otelhttp.NewTransport(rt, otelhttp.WithMeterProvider(mp), otelhttp.WithPropagators(Propagator()))
	})
}

func BenchmarkClientLean(b *testing.B) {
	tp, mp := benchProviders(b, view)
	ctx, span := tp.Tracer("flowker/engine").Start(remoteCaller(), "command.execution.execute_executor_node")
	b.Cleanup(func() { span.End() })
	benchClient(ctx, b, func(rt http.RoundTripper) http.RoundTripper {
		return newClientTransport(rt, mp, Propagator())
	})
}
