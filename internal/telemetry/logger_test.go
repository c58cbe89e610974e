package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// memLogs is an in-memory OTLP log exporter.
type memLogs struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (m *memLogs) Export(_ context.Context, rs []sdklog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rs {
		m.records = append(m.records, r.Clone())
	}
	return nil
}
func (*memLogs) Shutdown(context.Context) error   { return nil }
func (*memLogs) ForceFlush(context.Context) error { return nil }

func (m *memLogs) all() []sdklog.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sdklog.Record(nil), m.records...)
}

// jsonLogger is NewLogger's encoding into a buffer, at level.
func jsonLogger(t *testing.T, level zapcore.Level) (*zap.Logger, *bytes.Buffer) {
	t.Helper()
	base, err := NewLogger(level.String())
	require.NoError(t, err)
	var buf bytes.Buffer
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.MessageKey = "timestamp", "message"
	return base.WithOptions(zap.WrapCore(func(zapcore.Core) zapcore.Core {
		return zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(&buf), level)
	})), &buf
}

func decodeLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m), "line: %s", line)
		out = append(out, m)
	}
	return out
}

// recordingSpan returns a context with a recording span and that span.
func recordingSpan(t *testing.T) (context.Context, trace.Span) {
	t.Helper()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "command.execution.execute")
	t.Cleanup(func() { span.End() })
	return ctx, span
}

func TestLogEntriesCarryTraceAndSeedFields(t *testing.T) {
	t.Parallel()
	ctx, span := recordingSpan(t)
	sc := span.SpanContext()
	log, buf := jsonLogger(t, zapcore.InfoLevel)

	log.Info("Starting workflow execution", append(Trace(ctx),
		Operation("command.execution.execute"), WorkflowID("wf_abc123"), ExecutionID("exec_xyz789"),
		NodeID("node-payment"), ExecutorID("exec_cfg_001"), ErrorMessage(errors.New("database ping failed: refused")))...)
	Logger(ctx, log).Warn("via Logger")
	log.Info("outside any span", Trace(context.Background())...)

	lines := decodeLines(t, buf)
	require.Len(t, lines, 3)
	first := lines[0]
	for key, want := range map[string]string{
		"message":       "Starting workflow execution",
		"operation":     "command.execution.execute",
		"workflow.id":   "wf_abc123",
		"execution.id":  "exec_xyz789",
		"node.id":       "node-payment",
		"executor.id":   "exec_cfg_001",
		"error.message": "database ping failed: refused",
		"trace_id":      sc.TraceID().String(),
		"span_id":       sc.SpanID().String(),
	} {
		require.Equal(t, want, first[key], key)
	}
	require.NotContains(t, first, "context", "the context handed to the OTLP bridge is not encoded")
	require.Equal(t, sc.TraceID().String(), lines[1]["trace_id"])
	require.Equal(t, sc.SpanID().String(), lines[1]["span_id"])
	require.NotContains(t, lines[2], "trace_id")
	require.NotContains(t, lines[2], "span_id")
}

func TestSeedFieldNames(t *testing.T) {
	t.Parallel()
	// The telemetry page's log field table, verbatim.
	require.Equal(t, []string{"operation", "workflow.id", "execution.id", "node.id", "executor.id", "error.message", "trace_id", "span_id"},
		[]string{FieldOperation, FieldWorkflowID, FieldExecutionID, FieldNodeID, FieldExecutorID, FieldError, FieldTraceID, FieldSpanID})
	require.Equal(t, zap.Skip(), ErrorMessage(nil))
}

func TestErrorMessageRedactsSecrets(t *testing.T) {
	t.Parallel()
	f := ErrorMessage(errors.New(`Get "https://user:pw@kyc.example/v1/check?api_key=s3cret&x=1": dial tcp; Authorization: Bearer tok.en-123`))
	require.Equal(t, `Get "https://REDACTED@kyc.example/v1/check?api_key=REDACTED&x=REDACTED": dial tcp; Authorization: Bearer REDACTED`, f.String)
	for _, secret := range []string{"s3cret", "tok.en-123", "pw@"} {
		require.NotContains(t, f.String, secret)
	}
}

func TestLoggerTeesToOTLPWithTraceContext(t *testing.T) {
	t.Parallel()
	exp := &memLogs{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	tel := &Telemetry{traces: sdktrace.NewTracerProvider(), logs: lp}
	base, buf := jsonLogger(t, zapcore.InfoLevel)
	log := tel.Logger(base)
	ctx, span := recordingSpan(t)
	sc := span.SpanContext()

	log.Info("Starting workflow execution", append(Trace(ctx), ExecutionID("exec-1"), WorkflowID("wf-1"))...)
	log.Debug("below LOG_LEVEL: neither on stderr nor exported")
	Logger(ctx, log).Error("step failed", NodeID("kyc"))

	lines := decodeLines(t, buf)
	require.Len(t, lines, 2, "stderr still gets every entry")
	records := exp.all()
	require.Len(t, records, 2, "the same entries are exported, at the same level")

	r := records[0]
	require.Equal(t, "Starting workflow execution", r.Body().AsString())
	require.Equal(t, sc.TraceID(), r.TraceID(), "the record carries the trace context natively")
	require.Equal(t, sc.SpanID(), r.SpanID())
	attrs := map[string]string{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool { attrs[string(kv.Key)] = kv.Value.String(); return true })
	require.Equal(t, "exec-1", attrs["execution.id"])
	require.Equal(t, "wf-1", attrs["workflow.id"])
	require.NotContains(t, attrs, "trace_id", "no duplicate of the record's own trace id")
	require.NotContains(t, attrs, "span_id")
	require.NotContains(t, attrs, "context")

	require.Equal(t, sc.TraceID(), records[1].TraceID(), "With(Trace(ctx)) also carries the context")
	require.Equal(t, "step failed", records[1].Body().AsString())

	// Code that writes the id strings itself still gets a correlated record.
	log.Info("hand-made", zap.String(FieldTraceID, sc.TraceID().String()), zap.String(FieldSpanID, sc.SpanID().String()))
	records = exp.all()
	require.Len(t, records, 3)
	require.Equal(t, sc.TraceID(), records[2].TraceID())
	require.Equal(t, sc.SpanID(), records[2].SpanID())
	records[2].WalkAttributes(func(kv attribute.KeyValue) bool {
		require.NotEqual(t, FieldTraceID, string(kv.Key))
		return true
	})
}

func TestDisabledTelemetryLoggerIsBase(t *testing.T) {
	t.Parallel()
	base, _ := jsonLogger(t, zapcore.InfoLevel)
	require.Same(t, base, (&Telemetry{}).Logger(base))
	var nilTel *Telemetry
	require.Same(t, base, nilTel.Logger(base))
	require.NoError(t, nilTel.Shutdown(context.Background()))
}
