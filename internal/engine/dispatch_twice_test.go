package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

// TestSecondDispatchWaitsForTheRunUnderWay: an execution dispatched here
// again while its run is under way here — what a wake does after a park
// whose COMMIT committed but whose answer was lost, the parking run then
// carrying on: both pass the lease's fence, which names the process — is
// not driven twice at once. The second run starts once the first has
// ended, from what is stored, and calls nothing again (found by a defect
// hunt).
func TestSecondDispatchWaitsForTheRunUnderWay(t *testing.T) {
	env := newTestEnv(t, nil)
	slow := make(chan struct{})
	env.fake.Hold("/slow", slow)
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/slow", nil), env.callNode("b", "/after", nil)},
		link("t", "a"), link("a", "b"))
	id := env.start(wf, nil)
	env.awaitCalls("/slow", 1)
	require.True(t, env.eng.Reserve())
	env.eng.Dispatch(context.Background(), id) // as Engine.Wake does
	time.Sleep(200 * time.Millisecond)         // a second run, started now, would be calling /slow again
	calls := len(env.fake.RequestsTo("/slow"))
	close(slow)
	ex, steps := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Len(t, steps, 2)
	require.Equal(t, 1, calls, "one run at a time: /slow called once")
	require.Eventually(t, func() bool { return env.eng.inFlight.Load() == 0 }, waitLimit, 2*time.Millisecond,
		"both dispatches ended")
	require.Len(t, env.fake.RequestsTo("/after"), 1)
}
