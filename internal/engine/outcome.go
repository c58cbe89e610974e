package engine

import (
	"strings"
	"unicode/utf8"

	"flowker/internal/flow"
	"flowker/internal/secret"
)

// outcomeKind is how an attempt at an execution ends, apart from success.
type outcomeKind int8

const (
	outcomeNone      outcomeKind = iota
	outcomeFailed                // a node, an edge or the workflow itself failed: recorded, permanent
	outcomeCancelled             // a cancel was requested
	outcomeTimedOut              // the execution outlived ENGINE_EXECUTION_TIMEOUT
)

// outcome is a typed ending with its reason, for the execution's
// errorMessage.
type outcome struct {
	kind   outcomeKind
	reason string
}

func (o outcome) none() bool { return o.kind == outcomeNone }

// status is the terminal execution status of an ending.
func (o outcome) status() flow.ExecutionStatus {
	switch o.kind {
	case outcomeNone:
		return flow.ExecCompleted
	case outcomeCancelled:
		return flow.ExecCancelled
	default:
		return flow.ExecFailed
	}
}

// verdict is what the engine does with an execution after one attempt.
type verdict int8

const (
	verdictDone  verdict = iota // finished, or not ours any more: forget it
	verdictRetry                // a transient failure: run it again here after a backoff
)

// maxDepth bounds the nesting of a provider's JSON answer kept as a value;
// deeper answers are kept as text (PostgreSQL refuses very deep jsonb).
const maxDepth = 64

// storable makes a value from outside Flowker (a provider's answer)
// storable on every store: NUL and invalid UTF-8 become U+FFFD. It reports
// whether anything was replaced, and the value's depth. A value with
// nothing to replace (the usual answer) is returned as is, not copied:
// the caller decoded it for this call and holds it alone.
func storable(v any) (out any, changed bool, depth int) {
	depth, clean := inspect(v)
	if clean {
		return v, false, depth
	}
	return sanitized(v), true, depth
}

// inspect reports v's depth and whether every key and string in it is
// storable as it is.
func inspect(v any) (depth int, clean bool) {
	clean = true
	switch x := v.(type) {
	case string:
		return 0, storableAsIs(x)
	case map[string]any:
		for k, e := range x {
			d, c := inspect(e)
			clean, depth = clean && c && storableAsIs(k), max(depth, d)
		}
		return depth + 1, clean
	case []any:
		for _, e := range x {
			d, c := inspect(e)
			clean, depth = clean && c, max(depth, d)
		}
		return depth + 1, clean
	}
	return 0, true
}

// sanitized is a copy of v with every key and string made storable.
func sanitized(v any) any {
	switch x := v.(type) {
	case string:
		return storableText(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[storableText(k)] = sanitized(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = sanitized(e)
		}
		return l
	}
	return v
}

// stepError is the text a failed step stores of its error, whatever
// failed (a call, a condition, a template, a wait): an error may quote the
// data it failed on — a provider's answer, a token in a URL — so it is
// redacted with the log rules and made storable.
func stepError(err error) string { return storableText(secret.RedactText(err.Error())) }

// storableText replaces NUL and invalid UTF-8 with U+FFFD.
func storableText(s string) string {
	if storableAsIs(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// storableAsIs reports whether s holds neither NUL nor invalid UTF-8.
func storableAsIs(s string) bool { return utf8.ValidString(s) && !strings.Contains(s, "\x00") }
