package telemetry

import (
	"context"
	"io"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Per-entry cost of a log line on the engine's path ("Starting workflow
// execution": its fields and trace context), on the JSON stderr logger
// (written to io.Discard) teed to the OTLP export (batch processor,
// discarding exporter):
//
//	go test -run '^$' -bench Log -benchmem ./internal/telemetry/

type discardLogs struct{}

func (discardLogs) Export(context.Context, []sdklog.Record) error { return nil }
func (discardLogs) Shutdown(context.Context) error                { return nil }
func (discardLogs) ForceFlush(context.Context) error              { return nil }

// benchLogger is NewLogger's logger writing to io.Discard, teed to an OTLP
// log provider that discards.
func benchLogger(b *testing.B) *zap.Logger {
	b.Helper()
	cfg := loggerConfig(zapcore.InfoLevel)
	base := zap.New(&redactCore{zapcore.NewCore(zapcore.NewJSONEncoder(cfg.EncoderConfig), zapcore.AddSync(io.Discard), cfg.Level)},
		zap.AddCaller())
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(discardLogs{})))
	b.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	return (&Telemetry{traces: sdktrace.NewTracerProvider(), logs: lp}).Logger(base)
}

func BenchmarkLogExecutionStarted(b *testing.B) {
	log := benchLogger(b)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	b.ReportAllocs()
	for b.Loop() {
		if ce := log.Check(zap.InfoLevel, "Starting workflow execution"); ce != nil {
			ce.Write(append([]zap.Field{WorkflowID("0193abcd-0000-7000-8000-000000000001"),
				ExecutionID("0193abcd-0000-7000-8000-000000000002"), Operation("command.execution.execute")},
				Trace(ctx)...)...)
		}
	}
}
