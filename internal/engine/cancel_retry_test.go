package engine

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// An in-memory cancel comes after its request's commit (the service's
// CancelExecution), and may come late: after the run it was meant for
// ended cancelled and a retry (which clears the request) started another.
// That run was cancelled by it, although nobody asked (found by a defect
// hunt). A run stopped by Engine.Cancel now ends cancelled only if the
// cancel is still stored; else it goes on from what is durable.
func TestLateCancelSparesTheRetriedRun(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := context.Background()
	releaseA, releaseB := env.held("/a"), env.held("/b")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNode("b", "/b", nil)},
		linkTA, link("a", "b"))
	id := env.start(wf, nil)
	env.awaitRequests("/a", 1)
	require.NoError(t, env.raw.Batch(ctx, func(tx store.Tx) error { // the cancel's commit; its Engine.Cancel is late
		_, _, err := tx.RequestCancel(ctx, id, env.eng.now())
		return err
	}))
	releaseA()
	ex, _ := env.await(id)
	require.Equal(t, flow.ExecCancelled, ex.Status, "the run saw the stored cancel at its next write")

	require.True(t, env.eng.Reserve()) // the retry, as the service makes it
	require.NoError(t, env.raw.Batch(ctx, func(tx store.Tx) error {
		now := env.eng.now()
		_, err := tx.Requeue(ctx, id, env.eng.Owner(), now, env.eng.LeaseUntil(now))
		return err
	}))
	env.eng.Dispatch(context.Background(), id)
	env.awaitRequests("/b", 1)

	require.True(t, env.eng.Cancel(id), "the late in-memory cancel reaches the retried run")
	releaseB()
	env.clock.waitTimers(t, idleTimers+1, "the retried run's backoff, going on")
	env.clock.Advance(retryMax)
	ex, steps := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Len(t, steps, 2)
	require.Len(t, env.fake.RequestsTo("/a"), 1)
}
