package engine

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

// A condition's error can quote the data it failed on: what the step
// stores of it follows the same rules as a provider call's error —
// redacted (a bearer token, a URL's user info) and storable (no NUL).
func TestFailedConditionStoresItsErrorRedacted(t *testing.T) {
	p := def([]flow.Node{trig("t"), cond("c", "timestamp(workflow.token) > timestamp(\"2020-01-01T00:00:00Z\")"), call("yes")}, link("t", "c"), link("c", "yes", "true"))
	g := newTestGraph(p, map[string]any{"token": "Bearer sk_live_51abc\x00"})
	g.begin("t")
	var msg string
	for _, st := range g.takeRecorded() {
		if st.NodeID == "c" {
			require.Equal(t, flow.StepFailed, st.Status)
			msg = st.ErrorMessage
		}
	}
	require.Contains(t, msg, "REDACTED")
	require.NotContains(t, msg, "sk_live_51abc")
	require.False(t, strings.Contains(msg, "\x00"))
}
