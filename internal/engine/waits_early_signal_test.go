package engine

// A callback that comes before its wait_for_callback node is reached is
// kept and used when the node is reached (docs/waiting.md), whatever the
// node's timeout: it was accepted (202) before the timeout even started.
// Found by a defect hunt: a run that had read its signals at an earlier
// wait node reached the callback node with that stale view, opened a wait
// with a timeout, and the timer pass expired it without looking at the
// signals.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/storetest"
	"flowker/internal/waits"
)

// holdPaths holds each path on the fake until the returned release is
// called (at the latest, at the test's end).
func (env *testEnv) holdPaths(paths ...string) map[string]func() {
	release := map[string]func(){}
	for _, path := range paths {
		ch := make(chan struct{})
		var once sync.Once
		release[path] = func() { once.Do(func() { close(ch) }) }
		env.fake.Hold(path, ch)
		env.t.Cleanup(release[path])
	}
	return release
}

// deliverAsService records a signal for node's wait the way the service
// does (service.signal): under the execution's row it is refused when the
// node's wait is resolved already (FLK-0525) or closed or past its timeout
// (FLK-0526); else it is kept and resolves the node's open wait, if any.
func (env *testEnv) deliverAsService(execID uuid.UUID, node, name string, payload any) error {
	return env.wake(execID, func(tx store.Tx, now time.Time, ws []flow.Wait) (bool, error) {
		var open *flow.Wait
		for i := range ws {
			switch w := &ws[i]; {
			case w.NodeID != node || w.Status == flow.WaitCancelled:
			case w.OpenAt(now):
				open = w
			case w.Status == flow.WaitResolved:
				return false, flow.ErrSignalUsed
			default:
				return false, flow.ErrSignalLate
			}
		}
		sig := &flow.Signal{ExecutionID: execID, Name: name, Payload: payload, Source: "callback",
			ActorType: "callback", ActorID: node, ReceivedAt: now}
		if err := tx.AddSignal(context.Background(), sig); err != nil {
			return false, err
		}
		if open == nil { // early: kept for the node
			return false, nil
		}
		waits.Receive(open, sig)
		_, err := tx.ResolveWait(context.Background(), open)
		return true, err
	})
}

// stepOutput is the output of node's step.
func stepOutput(steps []flow.Step, node string) any {
	for _, s := range steps {
		if s.NodeID == node {
			return s.Output
		}
	}
	return nil
}

// The run reads its waits and signals at a first wait node (a delay due
// already), then the callback comes (early: its node is not reached), then
// the node is reached: it passes with the callback at once — no wait, no
// timeout — while a parallel call is still in flight.
func TestCallbackNodeReachedLaterSeesAnEarlySignal(t *testing.T) {
	env := newTestEnv(t, nil)
	release := env.holdPaths("/kyc", "/slow")
	wf := env.workflow([]flow.Node{trig("t"),
		waitNode("d", flow.NodeDelay, map[string]any{"until": "workflow.at"}),
		env.callNode("kyc", "/kyc", nil), env.callNode("slow", "/slow", nil),
		waitNode("cb", flow.NodeWaitForCallback, map[string]any{"timeout": "1m"}),
		env.callNode("after", "/after", nil), output("late", map[string]any{"kyc": "timed out"})},
		link("t", "d"), link("d", "kyc"), link("t", "slow"), link("kyc", "cb"),
		link("cb", "after"), link("cb", "late", flow.TimeoutHandle))
	id := env.start(wf, map[string]any{"at": "2001-02-03T04:05:06Z"})
	env.awaitCalls("/kyc", 1)
	env.awaitCalls("/slow", 1)
	require.NoError(t, env.deliverAsService(id, "cb", "cb", map[string]any{"verdict": "clear"}))
	release["/kyc"]()

	require.Eventually(t, func() bool { return len(env.fake.RequestsTo("/after")) == 1 }, 3*time.Second,
		2*time.Millisecond, "the callback node did not pass with its early callback while /slow was in flight")
	ws, err := env.raw.ListWaits(context.Background(), id)
	require.NoError(t, err)
	require.Empty(t, ws, "no wait is opened for a callback that is there already")

	release["/slow"]()
	ex, steps := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Equal(t, map[string]any{"verdict": "clear"}, stepOutput(steps, "cb"))
	require.Nil(t, stepOutput(steps, "late"))
}

// The callback is delivered in the instant between the run's read of the
// signals and the write of the wait's row (it finds no wait to resolve and
// is kept, 202); a parallel call keeps the run from parking, and the
// wait's timeout passes. The timer pass resolves the wait with the
// callback instead of taking the timeout edge.
func TestTimerResolvesAWaitWithTheSignalThatCameBeforeIt(t *testing.T) {
	env, hooks := newHookEnv(t, func(o *Options) { o.TimerInterval = 10 * time.Millisecond })
	release := env.holdPaths("/slow")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("kyc", "/kyc", nil), env.callNode("slow", "/slow", nil),
		env.callNode("notify", "/notify", nil), waitNode("cb", flow.NodeWaitForCallback, map[string]any{"timeout": "1m"}),
		output("ok", map[string]any{"kyc": "clear"}), output("late", map[string]any{"kyc": "timed out"})},
		link("t", "kyc"), link("t", "slow"), link("kyc", "cb"), link("kyc", "notify"),
		link("cb", "ok"), link("cb", "late", flow.TimeoutHandle))
	var id uuid.UUID
	accepted := make(chan error, 1)
	hooks.mu.Lock()
	hooks.afterSignals = func() { // cb reached: its signals read, its wait not yet written
		accepted <- env.deliverAsService(id, "cb", "cb", map[string]any{"verdict": "clear"})
	}
	hooks.mu.Unlock()
	ex := env.insert(wf, nil)
	id = ex.ID
	env.eng.DispatchNew(ex, nil)
	require.NoError(t, <-accepted, "the early callback is accepted")
	require.Eventually(t, func() bool { return len(env.openWaits(id)) == 1 }, waitLimit, 2*time.Millisecond,
		"the wait opened without the callback is written")

	closedWait := func() *flow.Wait {
		ws, err := env.raw.ListWaits(context.Background(), id)
		require.NoError(t, err)
		if len(ws) == 1 && !ws[0].Open() {
			return &ws[0]
		}
		return nil
	}
	var w *flow.Wait
	for deadline := time.Now().Add(waitLimit); w == nil && time.Now().Before(deadline); w = closedWait() {
		env.clock.Advance(30 * time.Second) // past the timeout, while /slow is in flight
		time.Sleep(10 * time.Millisecond)
	}
	require.NotNil(t, w, "the timer pass did not resolve the wait")
	require.Equal(t, flow.WaitResolved, w.Status, "the timeout won over a callback accepted before it")
	require.Equal(t, map[string]any{"verdict": "clear"}, w.Output)
	require.Contains(t, auditTypes(t, env.raw), "WAIT_RESOLVED")

	release["/slow"]()
	done, steps := env.await(id)
	require.Equal(t, flow.ExecCompleted, done.Status, done.ErrorMessage)
	require.Equal(t, map[string]any{"kyc": "clear"}, done.Output, "cb's output: %v", stepOutput(steps, "cb"))
}

// Two processes on one PostgreSQL database. Executions run on A and wait
// at a callback node (timeout 1m) while a parallel call keeps them from
// parking. Half have a callback that came before their wait's row (kept,
// not resolving it); the others' callbacks are delivered on A while B's
// timer pass expires the waits. Whatever the order: a callback accepted
// is the node's output, one refused as late (409 FLK-0526) leaves the
// timeout edge; never an accepted callback discarded.
func TestEarlySignalWinsOverATimerOnAnotherProcess(t *testing.T) {
	url := storetest.PostgresURL(t)
	open := func(owner string) *testEnv {
		raw, err := postgres.Open(context.Background(), url, 8)
		require.NoError(t, err)
		raw.UseAuditKey(storetest.AuditKey)
		return startEnv(t, raw, func(o *Options) { o.Owner, o.Concurrency = owner, 64 })
	}
	a, b := open("process-a"), open("process-b")
	release := a.holdPaths("/slow")
	wf := a.workflow([]flow.Node{trig("t"), a.callNode("kyc", "/kyc", nil), a.callNode("slow", "/slow", nil),
		a.callNode("notify", "/notify", nil),
		waitNode("cb", flow.NodeWaitForCallback, map[string]any{"timeout": "1m"}),
		output("ok", map[string]any{"kyc": "clear"}), output("late", map[string]any{"kyc": "timed out"})},
		link("t", "kyc"), link("t", "slow"), link("kyc", "cb"), link("kyc", "notify"),
		link("cb", "ok"), link("cb", "late", flow.TimeoutHandle))
	const n = 20
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = a.start(wf, nil)
	}
	ctx := context.Background()
	for i, id := range ids {
		require.Eventually(t, func() bool { return len(a.openWaits(id)) == 1 }, waitLimit, 2*time.Millisecond)
		if i%2 == 0 { // a delivery that raced the wait row's insert: kept, the wait left open
			require.NoError(t, a.raw.Batch(ctx, func(tx store.Tx) error {
				return tx.AddSignal(ctx, &flow.Signal{ExecutionID: id, Name: "cb", Payload: map[string]any{"i": i},
					Source: "callback", ActorType: "callback", ActorID: "cb", ReceivedAt: a.eng.now()})
			}))
		}
	}

	b.clock.waitTimers(t, idleTimers, "process b's timer loop")
	accepted := make([]error, n)
	var wg sync.WaitGroup
	for i := 1; i < n; i += 2 {
		wg.Go(func() {
			time.Sleep(time.Duration(i%7) * time.Millisecond)
			accepted[i] = a.deliverAsService(ids[i], "cb", "cb", map[string]any{"i": i})
		})
	}
	b.clock.Advance(2 * time.Minute) // B's timer pass, racing A's deliveries
	wg.Wait()
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		stillOpen := 0
		for _, id := range ids {
			stillOpen += len(a.openWaits(id))
		}
		if stillOpen == 0 {
			break
		}
		b.clock.Advance(time.Second) // a wait skipped while a delivery held its execution: next pass
	}
	release["/slow"]()

	late := 0
	for i := 1; i < n; i += 2 {
		if accepted[i] != nil {
			late++
		}
	}
	t.Logf("%d early callbacks; of %d delivered during the timer pass, %d refused as late", (n+1)/2, n/2, late)
	for i, id := range ids {
		ex, steps := a.await(id)
		require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
		switch {
		case i%2 == 0 || accepted[i] == nil:
			require.NoError(t, accepted[i])
			require.Equal(t, map[string]any{"kyc": "clear"}, ex.Output,
				"execution %d: an accepted callback was discarded; cb's output %v", i, stepOutput(steps, "cb"))
			require.Equal(t, map[string]any{"i": float64(i)}, stepOutput(steps, "cb"))
		default:
			require.True(t, errors.Is(accepted[i], flow.ErrSignalLate), "execution %d: %v", i, accepted[i])
			require.Equal(t, map[string]any{"kyc": "timed out"}, ex.Output, "execution %d", i)
		}
		require.Empty(t, a.openWaits(id))
	}
	require.Len(t, a.fake.RequestsTo("/slow"), n)
}
