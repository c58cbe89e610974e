package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/faultstore"
)

// A progress write whose COMMIT landed but whose answer was lost (the
// connection dropped as PostgreSQL answered) must not be sent again: its
// step rows would meet themselves (a unique violation the run took for
// "progress could not be stored"), and its audit event would be chained
// twice. The attempt ends and the execution runs again from what is
// durable. Each write of the run loses its answer in turn.
func TestLostCommitAnswerIsNotSentAgain(t *testing.T) {
	lostErr := store.OutcomeUnknown(errors.New("read tcp: connection reset by peer"))
	clean := newTestEnv(t, nil)
	wf := lostAnswerWorkflow(clean)
	ex, _ := clean.await(clean.start(wf, nil))
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	n := clean.st.Calls("Batch")
	require.GreaterOrEqual(t, n, 2)
	for k := 1; k <= n; k++ {
		t.Run(fmt.Sprintf("write %d of %d", k, n), func(t *testing.T) {
			env := newTestEnv(t, nil)
			wf := lostAnswerWorkflow(env)
			var once sync.Once
			arm := func() { once.Do(func() { env.st.Fail("Batch", faultstore.LostAnswer, lostErr) }) }
			if k == 1 {
				arm()
			} else {
				var mu sync.Mutex
				calls := 0
				env.st.Watch("Batch", func(context.Context) {
					mu.Lock()
					defer mu.Unlock()
					if calls++; calls == k-1 {
						arm() // for the next call
					}
				})
			}
			id := env.start(wf, nil)
			env.clock.waitTimers(t, idleTimers+1, "the backoff after the lost answer")
			env.clock.Advance(retryMax)
			ex, steps := env.await(id)
			require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
			require.Len(t, steps, 2)
			require.Len(t, env.fake.RequestsTo("/a"), 1)
			require.Len(t, env.fake.RequestsTo("/b"), 1)
			types := auditTypes(t, env.raw)
			seen := map[string]bool{}
			for _, typ := range types {
				require.False(t, seen[typ], "audit event %s chained twice: %v", typ, types)
				seen[typ] = true
			}
		})
	}
}

func lostAnswerWorkflow(env *testEnv) uuid.UUID {
	return env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNode("b", "/b", nil)},
		linkTA, link("a", "b"))
}

// A decision whose commit landed and whose answer was lost: the caller is
// told the outcome is unknown, and the execution, leased to this process
// by that commit, runs on at once — it waited for its lease to lapse and a
// rescuer (30 s by default) (found by a review).
func TestLostAnswerOfAWakeStillRunsTheExecution(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), waitNode("r", flow.NodeReview, map[string]any{"title": "Check",
		"decisions": []any{"approve", "reject"}}), output("ok", map[string]any{"result": "approved"})},
		link("t", "r"), link("r", "ok", "approve"))
	id := env.start(wf, nil)
	env.awaitStatus(id, flow.ExecWaiting)
	env.st.Fail("Batch", faultstore.LostAnswer, store.OutcomeUnknown(errors.New("connection reset by peer")))
	require.ErrorIs(t, env.tryDecide(id, "alice", "approve"), store.ErrOutcomeUnknown)
	ex, _ := env.await(id) // no rescue runs here (RescueInterval: an hour)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Equal(t, map[string]any{"result": "approved"}, ex.Output)
}
