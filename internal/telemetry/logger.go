package telemetry

import (
	"context"
	"errors"

	"go.opentelemetry.io/contrib/bridges/otelzap"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Log field names (docs/telemetry.md). Every Flowker log entry uses these
// keys for these facts; operation carries the span name of the work.
const (
	FieldOperation   = "operation"
	FieldWorkflowID  = "workflow.id"
	FieldExecutionID = "execution.id"
	FieldNodeID      = "node.id"
	FieldExecutorID  = "executor.id"
	FieldError       = "error.message"
	FieldTraceID     = "trace_id"
	FieldSpanID      = "span_id"
)

// Operation names the work being logged (a span name such as
// command.execution.execute, or "startup").
func Operation(name string) zap.Field { return zap.String(FieldOperation, name) }

// WorkflowID is the workflow.id field.
func WorkflowID(id string) zap.Field { return zap.String(FieldWorkflowID, id) }

// ExecutionID is the execution.id field.
func ExecutionID(id string) zap.Field { return zap.String(FieldExecutionID, id) }

// NodeID is the node.id field.
func NodeID(id string) zap.Field { return zap.String(FieldNodeID, id) }

// ExecutorID is the executor.id field.
func ExecutorID(id string) zap.Field { return zap.String(FieldExecutorID, id) }

// ErrorMessage is the error.message field, with URL query values, bearer
// and basic credentials and URL user info redacted.
func ErrorMessage(err error) zap.Field {
	if err == nil {
		return zap.Skip()
	}
	return zap.String(FieldError, redactText(err.Error()))
}

// Trace returns the trace_id and span_id fields of ctx's span, and a
// hidden field that hands ctx to the OTLP log bridge, so the exported
// record carries the trace context natively. Nothing when ctx has no valid
// span (telemetry disabled, or outside a request).
func Trace(ctx context.Context) []zap.Field {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []zap.Field{
		zap.String(FieldTraceID, sc.TraceID().String()),
		zap.String(FieldSpanID, sc.SpanID().String()),
		// SkipType: the JSON encoder writes nothing for it; otelzap takes
		// any field whose value is a context.Context as the record's context.
		{Key: "context", Type: zapcore.SkipType, Interface: ctx},
	}
}

// Logger returns base with ctx's trace fields attached.
func Logger(ctx context.Context, base *zap.Logger) *zap.Logger {
	f := Trace(ctx)
	if f == nil {
		return base
	}
	return base.With(f...)
}

// NewLogger returns a JSON logger to stderr at level (debug, info, warn,
// error). Every entry is kept: sampling would drop exactly the bursts an
// operator needs to read; every entry is redacted (redactCore).
// Telemetry.Logger adds the OTLP export.
func NewLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	return loggerConfig(lvl).Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return &redactCore{c} }))
}

func loggerConfig(lvl zapcore.Level) zap.Config {
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	cfg.DisableStacktrace = true // operator errors need one line, not a trace; panics log their stack explicitly
	cfg.EncoderConfig.TimeKey = "timestamp"
	cfg.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	cfg.EncoderConfig.MessageKey = "message"
	cfg.EncoderConfig.EncodeDuration = zapcore.StringDurationEncoder
	return cfg
}

// Logger returns base teed to the OTLP log export when telemetry is on (the
// same entries, at the same level, go to stderr and to the collector), or
// base itself when it is off.
func (t *Telemetry) Logger(base *zap.Logger) *zap.Logger {
	lp := t.LoggerProvider()
	if lp == nil {
		return base
	}
	return base.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		export := newExportCore(lp, base.Level())
		if r, ok := c.(*redactCore); ok { // NewLogger's: redact once, for both outputs
			return &redactCore{enabledTee{r.Core, export}}
		}
		return zapcore.NewTee(c, &redactCore{export})
	}))
}

// enabledTee writes each entry to every core enabled at its level, as
// zapcore.NewTee does, but is checked and written as one core: the
// redactCore around it then redacts an entry once for all its outputs,
// where a tee of two redactCores redacted it twice.
type enabledTee []zapcore.Core

func (t enabledTee) Enabled(l zapcore.Level) bool {
	for _, c := range t {
		if c.Enabled(l) {
			return true
		}
	}
	return false
}

func (t enabledTee) With(fields []zapcore.Field) zapcore.Core {
	out := make(enabledTee, len(t))
	for i, c := range t {
		out[i] = c.With(fields)
	}
	return out
}

func (t enabledTee) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if t.Enabled(e.Level) {
		return ce.AddCore(e, t)
	}
	return ce
}

func (t enabledTee) Write(e zapcore.Entry, fields []zapcore.Field) error {
	var errs []error
	for _, c := range t {
		if c.Enabled(e.Level) {
			if err := c.Write(e, fields); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (t enabledTee) Sync() error {
	var errs []error
	for _, c := range t {
		if err := c.Sync(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// exportCore is the otelzap bridge at the logger's level. The OTLP record
// carries the trace context in its own fields, so the trace_id and span_id
// string fields are not copied as attributes (Loki would get each twice);
// when an entry has them without Trace's context field (code that added
// the strings itself), the context is rebuilt from them.
type exportCore struct {
	zapcore.LevelEnabler
	next zapcore.Core
}

func newExportCore(lp otellog.LoggerProvider, level zapcore.LevelEnabler) zapcore.Core {
	return &exportCore{LevelEnabler: level, next: otelzap.NewCore("flowker", otelzap.WithLoggerProvider(lp))}
}

// exportFields drops the trace_id and span_id strings, adding a context
// built from them when fields hold none.
func exportFields(fields []zapcore.Field) []zapcore.Field {
	var traceID, spanID string
	hasCtx, found := false, false
	for _, f := range fields {
		switch {
		case f.Key == FieldTraceID && f.Type == zapcore.StringType:
			traceID, found = f.String, true
		case f.Key == FieldSpanID && f.Type == zapcore.StringType:
			spanID, found = f.String, true
		default:
			if _, ok := f.Interface.(context.Context); ok {
				hasCtx = true
			}
		}
	}
	if !found {
		return fields
	}
	out := make([]zapcore.Field, 0, len(fields))
	for _, f := range fields {
		if (f.Key == FieldTraceID || f.Key == FieldSpanID) && f.Type == zapcore.StringType {
			continue
		}
		out = append(out, f)
	}
	if !hasCtx {
		tid, err1 := trace.TraceIDFromHex(traceID)
		sid, err2 := trace.SpanIDFromHex(spanID)
		if err1 == nil && err2 == nil {
			sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
			out = append(out, zapcore.Field{Key: "context", Type: zapcore.SkipType,
				Interface: trace.ContextWithSpanContext(context.Background(), sc)})
		}
	}
	return out
}

func (c *exportCore) With(fields []zapcore.Field) zapcore.Core {
	return &exportCore{LevelEnabler: c.LevelEnabler, next: c.next.With(exportFields(fields))}
}

func (c *exportCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *exportCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	return c.next.Write(e, exportFields(fields))
}

func (c *exportCore) Sync() error { return c.next.Sync() }
