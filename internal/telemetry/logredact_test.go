package telemetry

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// TestLogsAreRedacted: whoever logs, and however, the entry leaves with
// the secret rules applied, on stderr and in the OTLP export.
func TestLogsAreRedacted(t *testing.T) {
	t.Parallel()
	base, err := NewLogger("info")
	require.NoError(t, err)
	require.IsType(t, &redactCore{}, base.Core(), "NewLogger's entries are redacted")

	var buf bytes.Buffer
	enc := zap.NewProductionEncoderConfig()
	stderr := zap.New(&redactCore{zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(&buf), zapcore.InfoLevel)})
	exp := &memLogs{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	log := (&Telemetry{traces: sdktrace.NewTracerProvider(), logs: lp}).Logger(stderr)

	log.With(zap.String("X-Auth-Token", "with-s3cret-1")).Warn(
		`calling "https://user:msg-s3cret-2@kyc.example/check"`,
		zap.String("password", "field-s3cret-3"),
		zap.String("error.message", `Get "https://kyc.example/check?api_key=query-s3cret-4": refused`),
		zap.Error(errors.New("Authorization: Bearer err-s3cret-5")),
		zap.Stringer("target", stringer("postgres://u:str-s3cret-6@db/x")),
		zap.Int("apiKey", 7777777), ExecutionID("exec-1"))

	out := buf.String()
	records := exp.all()
	require.Len(t, records, 1)
	var exported bytes.Buffer
	exported.WriteString(records[0].Body().AsString())
	attrs := map[string]string{}
	records[0].WalkAttributes(func(kv attribute.KeyValue) bool {
		attrs[string(kv.Key)] = kv.Value.String()
		exported.WriteString(" " + kv.Value.String())
		return true
	})
	for _, s := range []string{"with-s3cret-1", "msg-s3cret-2", "field-s3cret-3", "query-s3cret-4", "err-s3cret-5",
		"str-s3cret-6", "7777777"} {
		require.NotContains(t, out, s, "stderr")
		require.NotContains(t, exported.String(), s, "OTLP export")
	}
	require.Contains(t, out, `"execution.id":"exec-1"`, "other fields are kept")
	require.Contains(t, out, "kyc.example/check?api_key=REDACTED")
	require.Equal(t, "exec-1", attrs["execution.id"])
	require.Equal(t, Redacted, attrs["password"])
}

type stringer string

func (s stringer) String() string { return string(s) }

// TestSpanAttributesNamedLikeSecrets: an attribute named like a secret (a
// captured header, a token) is exported as REDACTED, whatever its key.
func TestSpanAttributesNamedLikeSecrets(t *testing.T) {
	t.Parallel()
	in := []attribute.KeyValue{attribute.String("http.request.header.x-auth-token", "hdr-s3cret"),
		attribute.String("client_secret", "cs-s3cret"), attribute.String("workflow.id", "w-1"),
		attribute.Int("token.count", 3)}
	out, changed := redactAttrs(in)
	require.True(t, changed)
	require.Equal(t, []attribute.KeyValue{attribute.String("http.request.header.x-auth-token", Redacted),
		attribute.String("client_secret", Redacted), attribute.String("workflow.id", "w-1"), attribute.Int("token.count", 3)}, out)
	require.Equal(t, "hdr-s3cret", in[0].Value.AsString(), "the span's own attributes are not modified")
}
