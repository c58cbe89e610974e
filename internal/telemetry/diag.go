package telemetry

import (
	"fmt"

	"github.com/go-logr/logr"
	"go.uber.org/zap"
)

// logrSink routes the OpenTelemetry SDK's internal logger (otel.SetLogger)
// to the diagnostics: errors become rate-limited warnings, informational
// chatter is dropped. Without it the SDK writes unstructured lines to
// stderr, breaking the one-JSON-object-per-line log.
type logrSink struct {
	d    *diagnostics
	name string
}

func newLogr(d *diagnostics) logr.Logger { return logr.New(&logrSink{d: d}) }

func (s *logrSink) Init(logr.RuntimeInfo) {}

// Enabled is false for Info at every verbosity: only errors are reported.
func (s *logrSink) Enabled(int) bool { return false }

func (s *logrSink) Info(int, string, ...any) {}

func (s *logrSink) Error(err error, msg string, kv ...any) {
	fields := make([]zap.Field, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		key := fmt.Sprint(kv[i])
		val := fmt.Sprint(kv[i+1])
		// The OTLP exporters parse OTEL_EXPORTER_OTLP_ENDPOINT themselves
		// as a URL and complain about host:port, which Setup accepts and
		// passes to them explicitly.
		if msg == "parse url" && key == "input" && val == s.d.endpoint {
			return
		}
		fields = append(fields, zap.String("otel."+key, redactText(val)))
	}
	if s.name != "" {
		fields = append(fields, zap.String("otel.component", s.name))
	}
	s.d.warn("OpenTelemetry SDK: "+msg, err, fields...)
}

func (s *logrSink) WithValues(...any) logr.LogSink { return s }

func (s *logrSink) WithName(name string) logr.LogSink {
	c := *s
	c.name = name
	return &c
}
