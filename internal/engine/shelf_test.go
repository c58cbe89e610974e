package engine

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

// runGoroutines counts the goroutines running an execution's code: its
// driver and the calls it started.
func runGoroutines() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "flowker/internal/engine.(*run).") {
			n++
		}
	}
	return n
}

// providerConfig adds another provider configuration on the fake: another
// call target, with slots of its own.
func (env *testEnv) providerConfig() uuid.UUID {
	env.t.Helper()
	now, id := env.eng.now(), uuid.New()
	require.NoError(env.t, env.raw.CreateProviderConfig(context.Background(), &flow.ProviderConfig{ID: id,
		Name: "fake-" + id.String()[:8], ProviderID: "http", Config: map[string]any{"base_url": env.fake.URL},
		Status: flow.ConfigActive, Revision: 1, CreatedAt: now, UpdatedAt: now}))
	return id
}

func (env *testEnv) callNodeOn(pc uuid.UUID, id, path string) flow.Node {
	n := env.callNode(id, path, nil)
	n.Data["providerConfigId"] = pc.String()
	return n
}

// held makes path wait until the returned function is called (also at the
// test's end, before the fake closes).
func (env *testEnv) held(path string) func() {
	release := make(chan struct{})
	env.fake.Hold(path, release)
	var once bool
	open := func() {
		if !once {
			once = true
			close(release)
		}
	}
	env.t.Cleanup(open)
	return open
}

func (env *testEnv) awaitRequests(path string, n int) {
	env.t.Helper()
	require.Eventually(env.t, func() bool { return len(env.fake.RequestsTo(path)) >= n }, waitLimit, time.Millisecond,
		"%d requests to %s", n, path)
}

// A running execution is one goroutine: it makes its call itself.
func TestOneGoroutinePerRunningExecution(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.Concurrency = 16 })
	release := env.held("/slow")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/slow", nil)}, linkTA)
	const n = 10
	var ids []uuid.UUID
	for range n {
		ids = append(ids, env.start(wf, nil))
	}
	env.awaitRequests("/slow", n)
	require.Equal(t, n, runGoroutines())
	release()
	for _, id := range ids {
		ex, _ := env.await(id)
		require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	}
}

// Calls in flight per target stay within ProviderConcurrency; the
// executions waiting for a slot hold no goroutine, another target is not
// held up, and every call is made once.
func TestProviderConcurrencyPerTarget(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.Concurrency = 16; o.ProviderConcurrency = 2 })
	release := env.held("/slow")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/slow", nil)}, linkTA)
	const n = 8
	var ids []uuid.UUID
	for range n {
		ids = append(ids, env.start(wf, nil))
	}
	env.awaitRequests("/slow", 2)
	require.Never(t, func() bool { return len(env.fake.RequestsTo("/slow")) > 2 }, 200*time.Millisecond, 5*time.Millisecond)
	require.Equal(t, 2, runGoroutines(), "waiting for a slot holds no goroutine")
	require.Equal(t, 2, env.eng.slots.inFlight("provider_config:"+env.pc.String()))

	other := env.workflow([]flow.Node{trig("t"), env.callNodeOn(env.providerConfig(), "a", "/other")}, linkTA)
	ex, _ := env.await(env.start(other, nil))
	require.Equal(t, flow.ExecCompleted, ex.Status, "another target has slots of its own")

	release()
	keys := map[string]bool{}
	for _, id := range ids {
		ex, steps := env.await(id)
		require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
		require.Len(t, steps, 1)
		require.Equal(t, 1, steps[0].Attempts)
	}
	for _, r := range env.fake.RequestsTo("/slow") {
		keys[r.Header.Get("Idempotency-Key")] = true
	}
	require.Len(t, keys, n, "one call per execution")
	require.Len(t, env.fake.RequestsTo("/slow"), n)
	require.Eventually(t, func() bool { return env.eng.slots.inFlight("provider_config:"+env.pc.String()) == 0 },
		waitLimit, time.Millisecond, "every slot given back")
}

// A branch that completed while its sibling waits for a slot is written
// before the run is shelved: rebuilt from the store, the run calls it no
// second time.
func TestShelvedRunKeepsWhatItDid(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.ProviderConcurrency = 1 })
	busy := env.providerConfig()
	release := env.held("/hog")
	hog := env.workflow([]flow.Node{trig("t"), env.callNodeOn(busy, "a", "/hog")}, linkTA)
	hogID := env.start(hog, nil)
	env.awaitRequests("/hog", 1)

	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNodeOn(busy, "b", "/b"),
		env.callNode("c", "/c", nil)}, link("t", "a"), link("t", "b"), link("a", "c"), link("b", "c"))
	id := env.start(wf, nil)
	env.awaitRequests("/a", 1)
	require.Eventually(t, func() bool {
		steps, err := env.raw.ListSteps(context.Background(), id)
		return err == nil && len(steps) == 1
	}, waitLimit, time.Millisecond, "a's step is written before the run is shelved")
	require.Eventually(t, func() bool { return runGoroutines() == 1 }, waitLimit, time.Millisecond, "only the hog's call runs")

	release()
	ex, steps := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Len(t, steps, 3)
	for _, path := range []string{"/a", "/b", "/c"} {
		require.Len(t, env.fake.RequestsTo(path), 1, path)
	}
	ex, _ = env.await(hogID)
	require.Equal(t, flow.ExecCompleted, ex.Status)
}

// A cancel reaches an execution waiting for a slot at once; its call is
// never made.
func TestCancelWhileWaitingForASlot(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.ProviderConcurrency = 1 })
	release := env.held("/slow")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/slow", nil)}, linkTA)
	first := env.start(wf, nil)
	env.awaitRequests("/slow", 1)
	waiting := env.start(wf, nil)
	// Cancel reports true once a worker runs it; asked before that, the
	// cancel is noted and applied when it starts (then Cancel finds it gone).
	require.Eventually(t, func() bool {
		if env.cancel(waiting) {
			return true
		}
		ex, err := env.raw.GetExecution(context.Background(), waiting)
		return err == nil && ex.Status == flow.ExecCancelled
	}, waitLimit, time.Millisecond)
	ex, steps := env.await(waiting)
	require.Equal(t, flow.ExecCancelled, ex.Status)
	require.Empty(t, steps, "its node never ran")
	release()
	ex, _ = env.await(first)
	require.Equal(t, flow.ExecCompleted, ex.Status)
	require.Len(t, env.fake.RequestsTo("/slow"), 1)
}

// The execution deadline runs while waiting for a slot.
func TestTimeoutWhileWaitingForASlot(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.ProviderConcurrency = 1; o.ExecutionTimeout = 300 * time.Millisecond })
	env.held("/slow")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/slow", nil)}, linkTA)
	waiting := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/never", nil)}, linkTA)
	first := env.start(wf, nil)
	env.awaitRequests("/slow", 1)
	id := env.start(waiting, nil)
	ex, _ := env.await(id)
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Contains(t, ex.ErrorMessage, "execution timeout")
	require.Empty(t, env.fake.RequestsTo("/never"))
	ex, _ = env.await(first)
	require.Equal(t, flow.ExecFailed, ex.Status, "its call was cut short")
}

// Stop hands back an execution waiting for a slot: not finished, its
// lease released for the next owner.
func TestStopHandsBackAWaitingExecution(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.ProviderConcurrency = 1 })
	release := env.held("/slow")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/slow", nil)}, linkTA)
	env.start(wf, nil)
	env.awaitRequests("/slow", 1)
	id := env.start(wf, nil)
	require.Eventually(t, func() bool { return runGoroutines() == 1 }, waitLimit, time.Millisecond)
	stopped := make(chan struct{})
	go func() { env.eng.Stop(100 * time.Millisecond); close(stopped) }()
	signal(t, stopped, "Stop")
	release()
	ex, err := env.raw.GetExecution(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, flow.ExecRunning, ex.Status)
	require.Empty(t, ex.LeaseOwner)
	require.Len(t, env.fake.RequestsTo("/slow"), 1)
}
