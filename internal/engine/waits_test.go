package engine

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/waits"
)

func waitNode(id string, typ flow.NodeType, data map[string]any) flow.Node {
	return flow.Node{ID: id, Type: typ, Data: data}
}

// awaitStatus waits for an execution to reach status.
func (env *testEnv) awaitStatus(id uuid.UUID, status flow.ExecutionStatus) *flow.Execution {
	env.t.Helper()
	var ex *flow.Execution
	require.Eventually(env.t, func() bool {
		var err error
		ex, err = env.raw.GetExecution(context.Background(), id)
		return err == nil && ex.Status == status
	}, waitLimit, 2*time.Millisecond, "execution %s never became %s", id, status)
	return ex
}

// idle reports whether the engine holds nothing of the execution: no
// record, no worker, no lease.
func (env *testEnv) requireReleased(id uuid.UUID) {
	env.t.Helper()
	require.Eventually(env.t, func() bool {
		env.eng.mu.Lock()
		_, held := env.eng.execs[id]
		env.eng.mu.Unlock()
		return !held && env.eng.inFlight.Load() == 0
	}, waitLimit, 2*time.Millisecond)
	ex, err := env.raw.GetExecution(context.Background(), id)
	require.NoError(env.t, err)
	require.Empty(env.t, ex.LeaseOwner)
	require.Nil(env.t, ex.LeaseExpiresAt)
}

// awaitCalls waits for n requests to path on the fake provider.
func (env *testEnv) awaitCalls(path string, n int) {
	env.t.Helper()
	require.Eventually(env.t, func() bool { return len(env.fake.RequestsTo(path)) >= n }, waitLimit, 2*time.Millisecond)
}

// deliver records a signal the way the service does, through Wake: the
// execution's row first, then the signal and the wait's resolution.
func (env *testEnv) deliver(execID uuid.UUID, name string, payload any) {
	env.t.Helper()
	env.resolve(execID, func(tx store.Tx, now time.Time, ws []flow.Wait) (bool, error) {
		sig := &flow.Signal{ExecutionID: execID, Name: name, Payload: payload, Source: "api", ActorType: "api_key",
			ActorID: "test", ReceivedAt: now}
		if err := tx.AddSignal(context.Background(), sig); err != nil {
			return false, err
		}
		for i := range ws {
			if ws[i].Open() && ws[i].Signal == name {
				waits.Receive(&ws[i], sig)
				_, err := tx.ResolveWait(context.Background(), &ws[i])
				return true, err
			}
		}
		return false, nil
	})
}

// decide records a review decision by who the way the service does.
func (env *testEnv) decide(execID uuid.UUID, who, decision string) {
	env.t.Helper()
	require.NoError(env.t, env.tryDecide(execID, who, decision))
}

// tryDecide is decide, returning Engine.Wake's error.
func (env *testEnv) tryDecide(execID uuid.UUID, who, decision string) error {
	return env.wake(execID, func(tx store.Tx, now time.Time, ws []flow.Wait) (bool, error) {
		for i := range ws {
			w := &ws[i]
			if !w.Open() || w.Kind != flow.NodeReview {
				continue
			}
			d := flow.Decision{Decision: decision, ActorType: "api_key", ActorID: who, DecidedAt: now}
			if err := tx.AddDecision(context.Background(), w.ID, d); err != nil {
				return false, err
			}
			if w.Decisions = append(w.Decisions, d); !waits.Decide(w, d) {
				return false, nil
			}
			_, err := tx.ResolveWait(context.Background(), w)
			return true, err
		}
		return false, nil
	})
}

// resolve runs change through Engine.Wake with the execution's row taken
// and its waits read.
func (env *testEnv) resolve(execID uuid.UUID, change func(tx store.Tx, now time.Time, ws []flow.Wait) (bool, error)) {
	env.t.Helper()
	require.NoError(env.t, env.wake(execID, change))
}

// wake is resolve, returning Engine.Wake's error.
func (env *testEnv) wake(execID uuid.UUID, change func(tx store.Tx, now time.Time, ws []flow.Wait) (bool, error)) error {
	ctx := context.Background()
	return env.eng.Wake(ctx, func(tx store.Tx, now time.Time) (uuid.UUID, bool, error) {
		if _, err := tx.LockExecution(ctx, execID, false); err != nil {
			return uuid.Nil, false, err
		}
		ws, err := tx.ListWaits(ctx, execID)
		if err != nil {
			return uuid.Nil, false, err
		}
		resolved, err := change(tx, now, ws)
		return execID, resolved, err
	})
}

func TestDelayFiresOnItsTimer(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), waitNode("d", flow.NodeDelay, map[string]any{"duration": "10m"}),
		env.callNode("a", "/after", nil)}, link("t", "d"), link("d", "a"))
	id := env.start(wf, nil)
	env.awaitStatus(id, flow.ExecWaiting)
	env.requireReleased(id) // a waiting execution holds no worker, record or lease

	env.clock.Advance(9 * time.Minute) // not yet due
	time.Sleep(20 * time.Millisecond)
	require.Empty(t, env.fake.RequestsTo("/after"))
	env.clock.waitTimers(t, idleTimers, "the timer loop")
	env.clock.Advance(2 * time.Minute)
	ex, steps := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Len(t, env.fake.RequestsTo("/after"), 1)
	require.Equal(t, "d", steps[0].NodeID)
	require.Equal(t, flow.StepCompleted, steps[0].Status)
	require.Contains(t, steps[0].Output, "firedAt")
}

func TestReviewDeadlineTakesTheDefaultDecision(t *testing.T) {
	for name, newEnv := range map[string]func(*testing.T, func(*Options)) *testEnv{
		"sqlite": newTestEnv, "postgres": newPostgresEnv,
	} {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t, nil)
			review := waitNode("r", flow.NodeReview, map[string]any{"title": "Check the payee",
				"decisions": []any{"approve", "reject"}, "deadline": "1h", "defaultDecision": "reject",
				"context": []any{map[string]any{"source": "workflow.amount", "target": "amount"},
					map[string]any{"source": "workflow.password", "target": "password"}}})
			wf := env.workflow([]flow.Node{trig("t"), review,
				output("ok", map[string]any{"result": "approved"}), output("no", map[string]any{"result": "rejected"})},
				link("t", "r"), link("r", "ok", "approve"), link("r", "no", "reject"))
			id := env.start(wf, map[string]any{"amount": 120.5, "password": "hunter2"})
			env.awaitStatus(id, flow.ExecWaiting)

			ws, err := env.raw.ListWaits(context.Background(), id)
			require.NoError(t, err)
			require.Len(t, ws, 1)
			require.Equal(t, "Check the payee", ws[0].Review.Title)
			require.InDelta(t, 120.5, ws[0].Review.Context["amount"], 0)
			require.NotEqual(t, "hunter2", ws[0].Review.Context["password"], "secrets are never shown to reviewers")

			env.clock.waitTimers(t, idleTimers, "the timer loop")
			env.clock.Advance(61 * time.Minute)
			ex, _ := env.await(id)
			require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
			require.Equal(t, map[string]any{"result": "rejected"}, ex.Output)
			ws, err = env.raw.ListWaits(context.Background(), id)
			require.NoError(t, err)
			require.Equal(t, flow.WaitExpired, ws[0].Status)
			require.Equal(t, "reject", ws[0].Handle)
			require.Contains(t, auditTypes(t, env.raw), "WAIT_EXPIRED")

			// The rows the engine inserted (the wait, the execution's and the
			// wait's events) have time-ordered ids: inserts at the indexes' end.
			require.EqualValues(t, 7, ws[0].ID.Version())
			events, err := env.raw.ListAudit(context.Background(), audit.Filter{Limit: 100})
			require.NoError(t, err)
			for _, e := range events {
				require.EqualValues(t, 7, e.ID.Version(), e.EventType)
			}
		})
	}
}

func auditTypes(t *testing.T, st store.Store) []string {
	t.Helper()
	events, err := st.ListAudit(context.Background(), audit.Filter{Limit: 100})
	require.NoError(t, err)
	var types []string
	for _, e := range events {
		types = append(types, e.EventType)
	}
	return types
}

// A callback may arrive before its node is reached: it is kept and used.
func TestEarlySignalIsKept(t *testing.T) {
	env := newTestEnv(t, nil)
	release := make(chan struct{})
	env.fake.Hold("/slow", release)
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/slow", nil),
		waitNode("w", flow.NodeWaitForCallback, map[string]any{"signal": "kyc"}),
		env.callNode("b", "/after", map[string]any{"inputMapping": mapping("nodes.w.verdict", "verdict")})},
		link("t", "a"), link("a", "w"), link("w", "b"))
	id := env.start(wf, nil)
	env.awaitCalls("/slow", 1)
	env.deliver(id, "kyc", map[string]any{"verdict": "clear"})
	close(release)
	ex, _ := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	reqs := env.fake.RequestsTo("/after")
	require.Len(t, reqs, 1)
	require.JSONEq(t, `{"verdict":"clear"}`, string(reqs[0].Body))
}

// A signal that arrives while the execution still runs another branch,
// after its wait node was reached, is seen when it parks: not lost.
func TestSignalWhileRunningIsNotLost(t *testing.T) {
	env := newTestEnv(t, nil)
	release := make(chan struct{})
	env.fake.Hold("/slow", release)
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/slow", nil),
		waitNode("w", flow.NodeWaitForCallback, map[string]any{"timeout": "1h"}), output("o", map[string]any{"done": true})},
		link("t", "a"), link("t", "w"), link("a", "o"), link("w", "o"))
	id := env.start(wf, nil)
	env.awaitCalls("/slow", 1)
	require.Eventually(t, func() bool { // the wait is written with the save before the call
		ws, err := env.raw.ListWaits(context.Background(), id)
		return err == nil && len(ws) == 1
	}, waitLimit, 2*time.Millisecond)
	env.deliver(id, "w", map[string]any{"ok": true}) // running, not waiting: nothing to wake
	close(release)
	ex, _ := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
}

// Timers are rows: a process that stops (or dies) with executions waiting
// loses nothing; another one fires them.
func TestTimersSurviveARestart(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), waitNode("d", flow.NodeDelay, map[string]any{"duration": "5m"}),
		env.callNode("a", "/after", nil)}, link("t", "d"), link("d", "a"))
	var ids []uuid.UUID
	for range 5 {
		ids = append(ids, env.start(wf, nil))
	}
	for _, id := range ids {
		env.awaitStatus(id, flow.ExecWaiting)
	}
	env.eng.Stop(time.Second)

	next := startEnv(t, env.raw, func(o *Options) { o.Owner = "another-process" })
	next.clock.Advance(10 * time.Minute) // its clock started at the real now, before the due time
	next.clock.waitTimers(t, idleTimers, "the timer loop")
	next.clock.Advance(10 * time.Minute)
	for _, id := range ids {
		ex, _ := next.await(id)
		require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	}
	require.Len(t, env.fake.RequestsTo("/after"), len(ids), "each execution goes on once")
}

// A due wait that cannot be resolved (here a corrupt review row whose
// expiry panics) holds up no other timer: each is fired in its own
// transaction, and the panic is that one's error.
func TestABadTimerHoldsUpNoOther(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := context.Background()
	poisoned := env.insert(env.workflow([]flow.Node{trig("t")}), nil)
	env.eng.Release() // inserted, never dispatched
	past := env.eng.now().Add(-time.Hour)
	require.NoError(t, env.raw.SaveWaits(ctx, []flow.Wait{{ID: uuid.New(), ExecutionID: poisoned.ID,
		WorkflowID: poisoned.WorkflowID, NodeID: "r", Kind: flow.NodeReview, Status: flow.WaitOpen, DueAt: &past,
		CreatedAt: past}})) // a review without its task: Expire cannot read its default decision

	wf := env.workflow([]flow.Node{trig("t"), waitNode("d", flow.NodeDelay, map[string]any{"duration": "1m"}),
		env.callNode("a", "/after", nil)}, link("t", "d"), link("d", "a"))
	id := env.start(wf, nil)
	env.awaitStatus(id, flow.ExecWaiting)
	env.clock.waitTimers(t, idleTimers, "the timer loop")
	env.clock.Advance(2 * time.Minute)
	ex, _ := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Len(t, env.fake.RequestsTo("/after"), 1)
}
