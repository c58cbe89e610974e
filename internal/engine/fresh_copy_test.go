package engine

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
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

// A new execution whose copy was dropped is still new: it is logged as
// starting and counted in flowker.executions.started, with its deadline
// from its start (found by a defect hunt: counted as resumed, so under
// load the dashboard's starts undercounted).
func TestQueuedNewExecutionIsCountedAsStarted(t *testing.T) {
	raw, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	raw.UseAuditKey(storetest.AuditKey)
	core, logs := observer.New(zapcore.InfoLevel)
	env := startEnvLogged(t, raw, func(o *Options) { o.Concurrency = 1 }, zap.New(core))
	release := env.held("/hold")
	first := env.start(env.workflow([]flow.Node{trig("t"), env.callNode("a", "/hold", nil)}, linkTA), nil)
	env.awaitRequests("/hold", 1)
	queued := env.start(env.workflow([]flow.Node{trig("t"), env.callNode("a", "/b", nil)}, linkTA), nil)
	release()
	for _, id := range []uuid.UUID{first, queued} {
		ex, _ := env.await(id)
		require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	}
	started := map[string]bool{}
	for _, l := range logs.FilterMessage("Starting workflow execution").All() {
		started[l.ContextMap()["execution.id"].(string)] = true
	}
	require.True(t, started[first.String()])
	require.True(t, started[queued.String()], "a new execution that waited for a place is logged as resumed (%d \"Resuming workflow execution\" lines)",
		logs.FilterMessage("Resuming workflow execution").Len())
}

// Not only the execution the dispatcher holds while no place is free: the
// ones behind it in the queue's buffer waited as long, and found places
// free at once when several runs ended together (found by a defect hunt:
// most of them ran from their copies, cancelled through another process).
func TestEveryExecutionThatQueuedReadsItsRow(t *testing.T) {
	const n = 16
	env := newTestEnv(t, func(o *Options) { o.Concurrency = n })
	release := env.held("/hold")
	holder := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/hold", nil)}, linkTA)
	for range n {
		env.start(holder, nil)
	}
	env.awaitRequests("/hold", n)
	queuedWF := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/b", nil)}, linkTA)
	var queued []uuid.UUID
	for range n {
		queued = append(queued, env.start(queuedWF, nil))
	}
	ctx := context.Background()
	for _, id := range queued { // no Engine.Cancel: the request went to another process
		require.NoError(t, env.raw.Batch(ctx, func(tx store.Tx) error {
			_, _, err := tx.RequestCancel(ctx, id, env.eng.now())
			return err
		}))
	}
	release()
	var ran []int
	for i, id := range queued {
		if ex, _ := env.await(id); ex.Status != flow.ExecCancelled {
			ran = append(ran, i)
		}
	}
	require.Empty(t, ran, "queued executions (by position) that ran although cancelled while they waited")
	require.Empty(t, env.fake.RequestsTo("/b"),
		"calls made for executions cancelled (through another process) while they waited for a place")
}
