package engine

import (
	"testing"

	"github.com/google/uuid"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
)

// A provider's number that a float64 would change (an id of 19 digits, an
// amount of 17 significant digits, a value below the normal range) is kept
// as its exact text, and the step says its answer was sanitized: it was
// read as a float64, and reached the next call or the ledger changed by a
// unit. Numbers a float64 holds stay numbers; an answer that is not one
// JSON value is kept as text, as before.
func TestProviderNumbersAreNotChanged(t *testing.T) {
	env := newTestEnv(t, nil)
	answers := map[string]struct {
		body      string
		want      any
		sanitized bool
	}{
		"/inexact": {`{"id":1234567890123456789,"amount":100.25,"rate":1.5e3,"tiny":1e-400,` +
			`"list":[9007199254740993,2],"text":"9007199254740993"}`,
			map[string]any{"id": "1234567890123456789", "amount": 100.25, "rate": 1500.0, "tiny": "1e-400",
				"list": []any{"9007199254740993", 2.0}, "text": "9007199254740993"}, true},
		"/exact":    {`{"id":123456789012345,"amount":100.25,"big":1e20}`, map[string]any{"id": 123456789012345.0, "amount": 100.25, "big": 1e20}, false},
		"/trailing": {`{"id":1234567890123456789} {}`, `{"id":1234567890123456789} {}`, false},
	}
	ids := map[string]uuid.UUID{}
	for path, a := range answers {
		env.fake.Respond(path, providertest.Response{Body: a.body})
		wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", path, nil)}, linkTA)
		ids[path] = env.start(wf, nil)
	}
	for path, a := range answers {
		ex, steps := env.await(ids[path])
		require.Equal(t, flow.ExecCompleted, ex.Status, "%s: %s", path, ex.ErrorMessage)
		out := steps[0].Output.(map[string]any)
		require.Equal(t, a.want, out["body"], path)
		_, flagged := steps[0].CallDetails["responseSanitized"]
		require.Equal(t, a.sanitized, flagged, path)
	}
}
