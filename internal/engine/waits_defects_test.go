package engine

// Waiting at the seams: an arrival racing the park, a wake racing the end
// of the worker that parked, a cancel from another process, the timeout
// budget of a woken run, and waits in parallel branches.

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// hookStore runs a test's function at two instants a fault store cannot
// reach: right after a Batch that parked an execution committed (still on
// the parking worker's goroutine), and right after ListSignals outside a
// transaction (the run's first look at its waits). Each hook runs once.
type hookStore struct {
	store.Store
	mu           sync.Mutex
	afterPark    func()
	afterSignals func()
}

type parkSpy struct {
	store.Tx
	parked *bool
}

func (p parkSpy) ParkExecution(ctx context.Context, owner string, id uuid.UUID, now time.Time) error {
	err := p.Tx.ParkExecution(ctx, owner, id, now)
	*p.parked = err == nil
	return err
}

func (h *hookStore) take(f *func()) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn := *f
	*f = nil
	return fn
}

func (h *hookStore) Batch(ctx context.Context, fn func(store.Tx) error) error {
	parked := false
	err := h.Store.Batch(ctx, func(tx store.Tx) error { return fn(parkSpy{Tx: tx, parked: &parked}) })
	if err == nil && parked {
		if f := h.take(&h.afterPark); f != nil {
			f()
		}
	}
	return err
}

func (h *hookStore) ListSignals(ctx context.Context, id uuid.UUID) ([]flow.Signal, error) {
	sigs, err := h.Store.ListSignals(ctx, id)
	if f := h.take(&h.afterSignals); f != nil {
		f()
	}
	return sigs, err
}

// newHookEnv is newTestEnv with its store behind a hookStore.
func newHookEnv(t *testing.T, tune func(*Options)) (*testEnv, *hookStore) {
	t.Helper()
	raw, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	raw.UseAuditKey(storetest.AuditKey)
	h := &hookStore{Store: raw}
	return startEnv(t, h, tune), h
}

func (env *testEnv) openWaits(id uuid.UUID) []string {
	env.t.Helper()
	ws, err := env.raw.ListWaits(context.Background(), id)
	require.NoError(env.t, err)
	var open []string
	for _, w := range ws {
		if w.Open() {
			open = append(open, w.NodeID)
		}
	}
	return open
}

// A wake that lands between the park's commit and the end of the worker
// that parked: the new run's local record must survive the old worker's
// end, or the heartbeat forgets its lease and the rescuer runs it twice.
// (The new run starts once the old one has ended: two runs of one
// execution never overlap here — TestSecondDispatchWaitsForTheRunUnderWay.)
func TestWakeWhileTheParkingWorkerEnds(t *testing.T) {
	env, hooks := newHookEnv(t, nil)
	release := make(chan struct{})
	var once sync.Once
	unhold := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unhold)
	env.fake.Hold("/after", release)
	wf := env.workflow([]flow.Node{trig("t"), waitNode("w", flow.NodeWaitForCallback, map[string]any{"signal": "go"}),
		env.callNode("a", "/after", nil)}, link("t", "w"), link("w", "a"))
	var id uuid.UUID
	hooks.afterPark = func() { // the parking worker has not returned yet
		env.deliver(id, "go", map[string]any{})
	}
	ex := env.insert(wf, nil)
	id = ex.ID
	env.eng.DispatchNew(ex, nil)
	env.awaitCalls("/after", 1)
	require.Eventually(t, func() bool { return env.eng.inFlight.Load() == 1 }, waitLimit, 2*time.Millisecond,
		"the parking worker ended")

	env.clock.Advance(2 * time.Minute) // past the lease the heartbeat would have extended
	require.Zero(t, env.eng.rescue(context.Background(), false), "the execution runs here: not claimed again")
	unhold()
	done, _ := env.await(id)
	require.Equal(t, flow.ExecCompleted, done.Status, done.ErrorMessage)
	require.Len(t, env.fake.RequestsTo("/after"), 1)
}

// A callback the run had not seen when it reached its node (it read the
// signals earlier, at another wait) is found when it parks; the wait row
// it wrote meanwhile must not stay open once the node passed with it.
func TestLateSeenSignalClosesItsWait(t *testing.T) {
	env := newTestEnv(t, nil)
	release := make(chan struct{})
	env.fake.Hold("/slow", release)
	wf := env.workflow([]flow.Node{trig("t"), waitNode("w1", flow.NodeWaitForCallback, map[string]any{"signal": "one"}),
		env.callNode("a", "/slow", nil), waitNode("w2", flow.NodeWaitForCallback, map[string]any{"signal": "two"}),
		output("o", map[string]any{"done": true})},
		link("t", "w1"), link("w1", "a"), link("a", "w2"), link("w2", "o"))
	id := env.start(wf, nil)
	env.awaitStatus(id, flow.ExecWaiting)
	env.deliver(id, "one", map[string]any{})
	env.awaitCalls("/slow", 1)
	env.deliver(id, "two", map[string]any{"v": 2}) // running, no wait yet: kept as an early signal
	close(release)
	ex, steps := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Equal(t, map[string]any{"v": float64(2)}, steps[len(steps)-2].Output)
	require.Empty(t, env.openWaits(id), "no wait stays open after its execution ended")
}

// A cancel requested from another process while the run is between
// reaching a review and parking: the review the park wrote is closed with
// the execution, not left in the inbox.
func TestCancelFromElsewhereBeforeThePark(t *testing.T) {
	env, hooks := newHookEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), waitNode("r", flow.NodeReview, nil), output("o", nil)},
		link("t", "r"), link("r", "o", "approve"))
	var id uuid.UUID
	hooks.afterSignals = func() {
		ctx := context.Background()
		require.NoError(t, env.raw.Batch(ctx, func(tx store.Tx) error {
			if _, _, err := tx.RequestCancel(ctx, id, env.eng.now()); err != nil {
				return err
			}
			_, err := tx.CancelWaits(ctx, id, env.eng.now())
			return err
		}))
	}
	ex := env.insert(wf, nil)
	id = ex.ID
	env.eng.DispatchNew(ex, nil)
	done, _ := env.await(id)
	require.Equal(t, flow.ExecCancelled, done.Status)
	require.Empty(t, env.openWaits(id), "the review is not left open in the inbox")
}

// ENGINE_EXECUTION_TIMEOUT counts active time: a run woken after waiting
// has its budget, whether the wait was its first node and whether the
// original deadline passed or not. (The fake clock keeps pace with real
// time here: the run's deadline is a real context deadline.)
func TestWokenRunHasAFullBudget(t *testing.T) {
	t.Run("first node, deadline passed", func(t *testing.T) {
		env := newTestEnv(t, func(o *Options) { o.ExecutionTimeout = 300 * time.Millisecond })
		wf := env.workflow([]flow.Node{trig("t"), waitNode("w", flow.NodeWaitForCallback, nil), output("o", nil)},
			link("t", "w"), link("w", "o"))
		id := env.start(wf, nil)
		env.awaitStatus(id, flow.ExecWaiting)
		time.Sleep(400 * time.Millisecond)
		env.clock.Advance(time.Until(env.clock.Now()) * -1) // up to real time
		env.deliver(id, "w", map[string]any{})
		ex, _ := env.await(id)
		require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	})
	t.Run("deadline not yet passed", func(t *testing.T) {
		env := newTestEnv(t, func(o *Options) { o.ExecutionTimeout = time.Second })
		release := make(chan struct{})
		env.fake.Hold("/slow", release)
		wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/first", nil),
			waitNode("w", flow.NodeWaitForCallback, nil), env.callNode("b", "/slow", nil)},
			link("t", "a"), link("a", "w"), link("w", "b"))
		id := env.start(wf, nil)
		env.awaitStatus(id, flow.ExecWaiting)
		time.Sleep(700 * time.Millisecond) // most of the budget spent waiting, not working
		env.clock.Advance(time.Until(env.clock.Now()) * -1)
		env.deliver(id, "w", map[string]any{})
		env.awaitCalls("/slow", 1)
		time.Sleep(500 * time.Millisecond) // a call well within a budget, past the original deadline
		close(release)
		ex, _ := env.await(id)
		require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	})
}

// Two waits in parallel branches: both park, the later-due one resolves
// first (the execution parks again on the other), then the other times out
// and takes its timeout edge; the join runs once.
func TestParallelWaits(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"),
		waitNode("a", flow.NodeWaitForCallback, map[string]any{"timeout": "1h"}),
		waitNode("b", flow.NodeWaitForCallback, map[string]any{"timeout": "2h"}),
		output("late", map[string]any{"a": "timed out"}), env.callNode("join", "/join", nil)},
		link("t", "a"), link("t", "b"), link("a", "late", flow.TimeoutHandle), link("a", "join"), link("b", "join"))
	id := env.start(wf, nil)
	env.awaitStatus(id, flow.ExecWaiting)
	require.ElementsMatch(t, []string{"a", "b"}, env.openWaits(id))
	env.deliver(id, "b", map[string]any{"b": 1})
	require.Eventually(t, func() bool { return len(env.openWaits(id)) == 1 }, waitLimit, 2*time.Millisecond)
	env.awaitStatus(id, flow.ExecWaiting)
	env.requireReleased(id)

	env.clock.waitTimers(t, idleTimers, "the timer loop")
	env.clock.Advance(61 * time.Minute)
	ex, _ := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Equal(t, map[string]any{"a": "timed out"}, ex.Output)
	require.Len(t, env.fake.RequestsTo("/join"), 1)
	require.Empty(t, env.openWaits(id))
}

// A process that wrote a review's wait and stopped before parking (here:
// handed back at shutdown mid-call): the next process resumes it, parks on
// the same review (no second task, no second WAIT_OPENED) and a decision
// then finishes it.
func TestRescuedBeforeParking(t *testing.T) {
	env := newTestEnv(t, nil)
	release := make(chan struct{})
	env.fake.Hold("/slow", release)
	wf := env.workflow([]flow.Node{trig("t"), waitNode("r", flow.NodeReview, nil), env.callNode("a", "/slow", nil),
		output("o", map[string]any{"ok": true})}, link("t", "r"), link("t", "a"), link("r", "o", "approve"))
	id := env.start(wf, nil)
	env.awaitCalls("/slow", 1)
	require.Equal(t, []string{"r"}, env.openWaits(id), "written before the call")
	env.eng.Stop(10 * time.Millisecond)
	close(release)

	next := startEnv(t, env.raw, func(o *Options) { o.Owner = "next-process" })
	next.awaitStatus(id, flow.ExecWaiting)
	next.decide(id, "alice", "approve")
	ex, _ := next.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	ws, err := env.raw.ListWaits(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, ws, 1)
	opened := 0
	for _, typ := range auditTypes(t, env.raw) {
		if typ == "WAIT_OPENED" {
			opened++
		}
	}
	require.Equal(t, 1, opened)
}

// Two processes on one PostgreSQL database: executions run and park on
// one, their callbacks arrive on the other at every moment — before the
// node is reached, while it parks, after. Each goes on exactly once.
func TestParkRacesSignalsAcrossProcesses(t *testing.T) {
	url := storetest.PostgresURL(t)
	open := func(owner string) *testEnv {
		raw, err := postgres.Open(context.Background(), url, 8)
		require.NoError(t, err)
		raw.UseAuditKey(storetest.AuditKey)
		return startEnv(t, raw, func(o *Options) { o.Owner = owner })
	}
	a, b := open("process-a"), open("process-b")
	b.fake = a.fake
	wf := a.workflow([]flow.Node{trig("t"), waitNode("w", flow.NodeWaitForCallback, map[string]any{"signal": "go"}),
		a.callNode("after", "/after", nil)}, link("t", "w"), link("w", "after"))
	const n = 30
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = a.start(wf, nil)
		time.Sleep(time.Duration(i%5) * time.Millisecond)
		b.deliver(ids[i], "go", map[string]any{"i": i})
	}
	for _, id := range ids {
		ex, steps := a.await(id)
		require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
		require.Len(t, steps, 2)
		require.Empty(t, a.openWaits(id))
	}
	require.Len(t, a.fake.RequestsTo("/after"), n, "each execution went on once")
}

// A delay's until: in the past it fires at once (no wait row); missing,
// not an RFC 3339 time or past the year 9999 fails the node with the
// reason, not the process.
// A review context naming a node that never ran opens the review, the
// value null (as an optional inputMapping source).
func TestDelayUntilAndReviewContextEdges(t *testing.T) {
	env := newTestEnv(t, nil)
	delay := env.workflow([]flow.Node{trig("t"), waitNode("d", flow.NodeDelay, map[string]any{"until": "workflow.at"}),
		output("o", map[string]any{"ok": true})}, link("t", "d"), link("d", "o"))
	for name, tc := range map[string]struct {
		input map[string]any
		want  flow.ExecutionStatus
		msg   string
	}{
		"past":      {map[string]any{"at": "2001-02-03T04:05:06+01:00"}, flow.ExecCompleted, ""},
		"missing":   {nil, flow.ExecFailed, "until"},
		"not time":  {map[string]any{"at": "tomorrow"}, flow.ExecFailed, "is not an RFC 3339 time"},
		"a number":  {map[string]any{"at": 12}, flow.ExecFailed, "is not an RFC 3339 time"},
		"an object": {map[string]any{"at": map[string]any{"x": 1}}, flow.ExecFailed, "is not an RFC 3339 time"},
		// Year 10000 in UTC: SQLite would sort its due time as the past.
		"past 9999": {map[string]any{"at": "9999-12-31T23:59:59-03:00"}, flow.ExecFailed, "between years 0001 and 9999"},
	} {
		id := env.start(delay, tc.input)
		ex, steps := env.await(id)
		require.Equal(t, tc.want, ex.Status, "%s: %s", name, ex.ErrorMessage)
		require.Contains(t, ex.ErrorMessage, tc.msg, name)
		require.Empty(t, env.openWaits(id), name)
		if tc.want == flow.ExecCompleted {
			require.Equal(t, "2001-02-03T03:05:06Z", steps[0].Output.(map[string]any)["dueAt"], name)
		}
	}

	review := env.workflow([]flow.Node{trig("t"), waitNode("r", flow.NodeReview, map[string]any{
		"context": []any{map[string]any{"source": "nodes.ghost.score", "target": "score"},
			map[string]any{"source": "workflow.amount", "target": "amount"}}}), output("o", nil)},
		link("t", "r"), link("r", "o", "approve"))
	id := env.start(review, map[string]any{"amount": 10})
	env.awaitStatus(id, flow.ExecWaiting)
	ws, err := env.raw.ListWaits(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, ws, 1)
	require.Equal(t, map[string]any{"amount": float64(10), "score": nil}, ws[0].Review.Context)
}
