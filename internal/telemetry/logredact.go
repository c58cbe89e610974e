package telemetry

import (
	"fmt"

	"go.uber.org/zap/zapcore"

	"flowker/internal/secret"
)

// redactCore applies the secret rules of internal/secret to every log
// entry before it is written, whoever logged it: a field whose key is a
// secret name (password, token, authorization, …) is replaced by
// REDACTED, and the message and every string, error and Stringer field
// get RedactText (query values, bearer/basic credentials, URL user info).
// It wraps the stderr core (NewLogger) and, with telemetry on, the tee of
// that core and the OTLP export (Telemetry.Logger): one redaction per entry
// for both outputs.
//
// It is used by pointer: Check hands the core itself to the entry, and a
// pointer is stored in an interface without an allocation per entry.
type redactCore struct{ zapcore.Core }

func (c *redactCore) With(fields []zapcore.Field) zapcore.Core {
	return &redactCore{c.Core.With(redactFields(fields))}
}

func (c *redactCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *redactCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	e.Message = secret.RedactText(e.Message)
	return c.Core.Write(e, redactFields(fields))
}

// redactFields returns fields, or a redacted copy when anything changed.
func redactFields(fields []zapcore.Field) []zapcore.Field {
	var out []zapcore.Field
	for i, f := range fields {
		r, changed := redactField(f)
		if !changed {
			continue
		}
		if out == nil {
			out = append([]zapcore.Field(nil), fields...)
		}
		out[i] = r
	}
	if out == nil {
		return fields
	}
	return out
}

func redactField(f zapcore.Field) (zapcore.Field, bool) {
	if f.Type == zapcore.SkipType { // the hidden context of Trace: not written
		return f, false
	}
	if isSecretName(f.Key) {
		return zapcore.Field{Key: f.Key, Type: zapcore.StringType, String: secret.Redacted}, true
	}
	var text string
	switch f.Type {
	case zapcore.StringType:
		text = f.String
	case zapcore.ErrorType, zapcore.StringerType:
		if f.Interface == nil {
			return f, false
		}
		text = fmt.Sprint(f.Interface)
	default:
		return f, false
	}
	r := secret.RedactText(text)
	if r == text {
		return f, false
	}
	return zapcore.Field{Key: f.Key, Type: zapcore.StringType, String: r}, true
}
