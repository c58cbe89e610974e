package engine

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// A new execution handed over by DispatchNew that waits for a place reads
// its row before its first calls: another process may have been asked to
// cancel it (and answered 200), or, after this one stalled past the lease,
// taken it over. The copy was trusted however long it waited, and the
// first calls went out regardless (found by a defect hunt with two
// processes on PostgreSQL, ENGINE_CONCURRENCY=1).
func TestQueuedNewExecutionReadsItsRow(t *testing.T) {
	for name, meanwhile := range map[string]func(env *testEnv, id uuid.UUID){
		"cancelled on another process": func(env *testEnv, id uuid.UUID) {
			ctx := context.Background()
			require.NoError(t, env.raw.Batch(ctx, func(tx store.Tx) error { // no Engine.Cancel: not this process's
				_, _, err := tx.RequestCancel(ctx, id, env.eng.now())
				return err
			}))
		},
		"taken over by another process": func(env *testEnv, id uuid.UUID) {
			now := env.eng.now()
			ids, err := env.raw.ClaimExecutions(context.Background(), "other", now, now.Add(time.Minute), 10, false)
			require.NoError(t, err)
			require.Contains(t, ids, id, "its lease had lapsed")
		},
	} {
		t.Run(name, func(t *testing.T) {
			env := newTestEnv(t, func(o *Options) { o.Concurrency = 1 })
			release := env.held("/hold")
			env.start(env.workflow([]flow.Node{trig("t"), env.callNode("a", "/hold", nil)}, linkTA), nil)
			env.awaitRequests("/hold", 1)
			queued := env.start(env.workflow([]flow.Node{trig("t"), env.callNode("a", "/b", nil)}, linkTA), nil)

			env.clock.Advance(2 * time.Minute) // past both leases
			meanwhile(env, queued)
			release()
			require.Eventually(t, func() bool { return env.eng.inFlight.Load() == 0 }, waitLimit, 2*time.Millisecond,
				"both runs ended")
			require.Empty(t, env.fake.RequestsTo("/b"), "no call for an execution this process no longer runs")
			if ex, err := env.raw.GetExecution(context.Background(), queued); err == nil && ex.LeaseOwner != "other" {
				require.Equal(t, flow.ExecCancelled, ex.Status)
			}
		})
	}
}
