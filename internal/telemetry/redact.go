package telemetry

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"flowker/internal/secret"
)

// Redacted replaces a secret in exported telemetry.
const Redacted = secret.Redacted

// redactText hides query values, bearer/basic credentials and URL user
// info in s: the one set of rules of internal/secret, which step records
// use too.
func redactText(s string) string { return secret.RedactText(s) }

// redactedKeys are the span and event attributes that may carry a URL or
// an error text.
var redactedKeys = map[attribute.Key]bool{
	"url.full": true, "url.query": true, "http.url": true, "http.target": true,
	"exception.message": true, "error.message": true,
}

func redactAttrs(in []attribute.KeyValue) ([]attribute.KeyValue, bool) {
	var out []attribute.KeyValue
	var lastIn, lastOut string // a server span's http.url repeats its http.target
	for i, kv := range in {
		if kv.Value.Type() != attribute.STRING {
			continue
		}
		urlOrError := redactedKeys[kv.Key]
		if !urlOrError && !isSecretKey(kv.Key) {
			continue
		}
		v := kv.Value.AsString()
		var r string
		switch {
		case !urlOrError: // a secret's name (a captured header, a token): its value
			r = Redacted
		case kv.Key == "url.query": // no leading "?"
			r = strings.TrimPrefix(redactText("?"+v), "?")
		case v == lastIn:
			r = lastOut
		default:
			r = redactText(v)
			lastIn, lastOut = v, r
		}
		if r == v {
			continue
		}
		if out == nil {
			out = append([]attribute.KeyValue(nil), in...)
		}
		out[i] = attribute.String(string(kv.Key), r)
	}
	if out == nil {
		return in, false
	}
	return out, true
}

// secretNames remembers which names (span attribute keys, log field keys)
// are named like a secret: every exported span and every log entry asks
// for each of its attributes or fields, and the names are few.
var secretNames boundedCache[string, bool]

func isSecretName(name string) bool { return secretNames.get(name, secret.IsSecretName) }

func isSecretKey(k attribute.Key) bool { return isSecretName(string(k)) }

// redactingExporter hides secrets in spans just before export: URL
// attributes (otelhttp's url.full carries the provider's query, otelfiber's
// http.target the caller's), exception events and status descriptions
// (a transport error names the URL).
type redactingExporter struct{ sdktrace.SpanExporter }

func (e redactingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := spans
	for i, s := range spans {
		if r, changed := redactSpan(s); changed {
			if &out[0] == &spans[0] {
				out = append([]sdktrace.ReadOnlySpan(nil), spans...)
			}
			out[i] = r
		}
	}
	return e.SpanExporter.ExportSpans(ctx, out)
}

type redactedSpan struct {
	sdktrace.ReadOnlySpan
	attrs  []attribute.KeyValue
	events []sdktrace.Event
	status sdktrace.Status
}

func (s redactedSpan) Attributes() []attribute.KeyValue { return s.attrs }
func (s redactedSpan) Events() []sdktrace.Event         { return s.events }
func (s redactedSpan) Status() sdktrace.Status          { return s.status }

func redactSpan(s sdktrace.ReadOnlySpan) (sdktrace.ReadOnlySpan, bool) {
	attrs, changed := redactAttrs(s.Attributes())
	events := s.Events()
	var copied bool
	for i, ev := range events {
		a, c := redactAttrs(ev.Attributes)
		if !c {
			continue
		}
		if !copied {
			events = append([]sdktrace.Event(nil), events...)
			copied = true
		}
		events[i].Attributes = a
		changed = true
	}
	status := s.Status()
	if d := redactText(status.Description); d != status.Description {
		status.Description = d
		changed = true
	}
	if !changed {
		return s, false
	}
	return redactedSpan{ReadOnlySpan: s, attrs: attrs, events: events, status: status}, true
}
