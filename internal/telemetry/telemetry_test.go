package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"

	"flowker/internal/config"
)

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	ok := []struct {
		raw, protocol string
		want          endpoint
	}{
		{"127.0.0.1:4317", "grpc", endpoint{protocol: "grpc", hostPort: "127.0.0.1:4317", insecure: true}},
		{"otel-collector:4317", "", endpoint{protocol: "grpc", hostPort: "otel-collector:4317", insecure: true}},
		{"http://otel:4317", "grpc", endpoint{protocol: "grpc", hostPort: "otel:4317", insecure: true}},
		{"https://otel.example.com:4317/", "grpc", endpoint{protocol: "grpc", hostPort: "otel.example.com:4317"}},
		{"http://otel:4318", "http/protobuf", endpoint{protocol: "http/protobuf", hostPort: "otel:4318", insecure: true}},
		{"https://gw.example.com/otlp/", "http/protobuf", endpoint{protocol: "http/protobuf", hostPort: "gw.example.com", path: "/otlp"}},
		{"[::1]:4317", "grpc", endpoint{protocol: "grpc", hostPort: "[::1]:4317", insecure: true}},
	}
	for _, tt := range ok {
		got, err := parseEndpoint(tt.raw, tt.protocol)
		require.NoError(t, err, tt.raw)
		require.Equal(t, tt.want, got, tt.raw)
	}
	for _, raw := range []string{"otel", "otel:", ":4317", "ftp://otel:21", "http://", "https://u:s3cret@otel:4317",
		"http://otel:4317?x=1", "grpc://otel:4317"} {
		_, err := parseEndpoint(raw, "grpc")
		require.Error(t, err, raw)
		require.Contains(t, err.Error(), "OTEL_EXPORTER_OTLP_ENDPOINT", raw)
		require.NotContains(t, err.Error(), "s3cret")
	}
	_, err := parseEndpoint("http://otel:4317/prefix", "grpc")
	require.ErrorContains(t, err, "gRPC endpoint has no path")
}

// restoreGlobals puts back the propagator a test replaced. The providers
// cannot be put back (the original global delegates refuse to be set to
// themselves); no parallel test of this package uses them.
func restoreGlobals(t *testing.T) {
	t.Helper()
	prop := otel.GetTextMapPropagator()
	t.Cleanup(func() { otel.SetTextMapPropagator(prop) })
}

func TestSetupDisabledInstallsOnlyThePropagator(t *testing.T) { // not parallel: replaces globals
	restoreGlobals(t)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	tp, mp, lp := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetLoggerProvider()
	tel, err := Setup(context.Background(), config.Telemetry{Enabled: false}, zap.NewNop())
	require.NoError(t, err)
	require.False(t, tel.Enabled())
	require.Nil(t, tel.LoggerProvider())
	require.ElementsMatch(t, []string{"traceparent", "tracestate", "baggage"}, otel.GetTextMapPropagator().Fields())
	require.Equal(t, tp, otel.GetTracerProvider(), "providers untouched when disabled")
	require.Equal(t, mp, otel.GetMeterProvider())
	require.Equal(t, lp, otel.GetLoggerProvider())
	require.NoError(t, tel.Shutdown(context.Background()))
}

func TestSetupEnabledInstallsGlobalProviders(t *testing.T) { // not parallel: replaces globals
	restoreGlobals(t)
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		cfg := config.Telemetry{Enabled: true, Endpoint: "127.0.0.1:1", Protocol: protocol, ServiceName: "flowker-test",
			ServiceVersion: "1.2.3", Environment: "test", MetricInterval: time.Hour}
		tel, err := Setup(context.Background(), cfg, zap.NewNop())
		require.NoError(t, err, protocol)
		require.True(t, tel.Enabled())
		require.NotNil(t, tel.LoggerProvider())
		require.Same(t, tel.traces, otel.GetTracerProvider(), "the reference never installed its providers; we do")
		require.Same(t, tel.metrics, otel.GetMeterProvider())
		require.Same(t, tel.logs, otel.GetLoggerProvider())

		// The resource names the service.
		_, span := otel.Tracer("t").Start(context.Background(), "x")
		ro, ok := span.(sdktrace.ReadOnlySpan)
		require.True(t, ok)
		attrs := map[string]string{}
		for _, kv := range ro.Resource().Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		span.End()
		require.Equal(t, "flowker-test", attrs["service.name"])
		require.Equal(t, "1.2.3", attrs["service.version"])
		require.Equal(t, "test", attrs["deployment.environment.name"])
		require.Equal(t, "test", attrs["deployment.environment"])
		require.NotEmpty(t, attrs["service.instance.id"])
		require.NotEmpty(t, attrs["host.name"])

		// Nothing listens on port 1: the flush fails within the deadline, and says so.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		err = tel.Shutdown(ctx)
		cancel()
		require.Less(t, time.Since(start), 5*time.Second)
		_ = err // an unreachable collector may or may not be reported, depending on what was buffered
	}
}

func TestSetupRefusesABadEndpoint(t *testing.T) { // not parallel: replaces the propagator
	restoreGlobals(t)
	_, err := Setup(context.Background(), config.Telemetry{Enabled: true, Endpoint: "collector"}, nil)
	require.ErrorContains(t, err, "OTEL_EXPORTER_OTLP_ENDPOINT")
}
