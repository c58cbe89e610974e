package engine

// A harness for driver tests: a real store (SQLite, or PostgreSQL when
// FLOWKER_TEST_DATABASE_URL is set and the test asks for it) behind the
// fault-injection wrapper, a real fake provider over HTTP, an injected
// clock, and waits on signals with a deadline instead of sleeps.

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"flowker/internal/catalog"
	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/provider/providertest"
	"flowker/internal/secret"
	"flowker/internal/store"
	"flowker/internal/store/faultstore"
	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

const waitLimit = 10 * time.Second

// fakeClock is a Clock moved by the test. Timers fire when Advance passes
// their due time; sleeper signals each new timer, so a test can wait for
// the engine to start waiting (waitTimers) before it moves time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []fakeTimer
	sleeper chan struct{}
}

type fakeTimer struct {
	due time.Time
	fn  func()
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now(), sleeper: make(chan struct{}, 1024)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.AfterFunc(d, func() { ch <- c.Now() })
	return ch
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) {
	c.mu.Lock()
	c.timers = append(c.timers, fakeTimer{due: c.now.Add(d), fn: f})
	c.mu.Unlock()
	select {
	case c.sleeper <- struct{}{}:
	default:
	}
}

// pending counts timers not yet fired.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// hasTimerDue reports whether a pending timer is due at t: a loop that
// registered its next turn.
func (c *fakeClock) hasTimerDue(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tm := range c.timers {
		if tm.due.Equal(t) {
			return true
		}
	}
	return false
}

// waitTimers waits until n timers are pending. An engine at rest has two:
// the heartbeat and the rescuer.
func (c *fakeClock) waitTimers(t *testing.T, n int, what string) {
	t.Helper()
	for c.pending() < n {
		signal(t, c.sleeper, what)
	}
}

// idleTimers is the number of timers an idle engine keeps pending: the
// heartbeat, the rescuer and the timer of waits.
const idleTimers = 3

// Advance moves time by d and fires the timers now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.due.After(c.now) {
			due = append(due, t.fn)
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
}

type testEnv struct {
	t     *testing.T
	raw   store.Store
	st    *faultstore.Store
	eng   *Engine
	fake  *providertest.Server
	pc    uuid.UUID
	clock *fakeClock
}

// newTestEnv starts an engine on SQLite; tune may change its options.
func newTestEnv(t *testing.T, tune func(*Options)) *testEnv {
	t.Helper()
	raw, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	raw.UseAuditKey(storetest.AuditKey)
	return startEnv(t, raw, tune)
}

// newPostgresEnv is newTestEnv on PostgreSQL (skipped without a database).
func newPostgresEnv(t *testing.T, tune func(*Options)) *testEnv {
	t.Helper()
	raw, err := postgres.Open(context.Background(), storetest.PostgresURL(t), 8)
	require.NoError(t, err)
	raw.UseAuditKey(storetest.AuditKey)
	return startEnv(t, raw, tune)
}

func startEnv(t *testing.T, raw store.Store, tune func(*Options)) *testEnv {
	return startEnvLogged(t, raw, tune, zap.NewNop())
}

// startEnvLogged is startEnv with the engine logging to log.
func startEnvLogged(t *testing.T, raw store.Store, tune func(*Options), log *zap.Logger) *testEnv {
	return startEnvWith(t, raw, tune, log, providertest.New(t), provider.New(provider.Options{AllowPrivate: true}))
}

// startEnvWith is startEnvLogged calling fake through client.
func startEnvWith(t *testing.T, raw store.Store, tune func(*Options), log *zap.Logger, fake *providertest.Server,
	client *provider.Client) *testEnv {
	t.Cleanup(func() { _ = raw.Close() })
	env := &testEnv{t: t, raw: raw, st: faultstore.Wrap(raw), fake: fake, clock: newFakeClock()}
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, secret.KeySize))
	require.NoError(t, err)
	opts := Options{Owner: "test-owner", Concurrency: 8, QueueSize: 64, LeaseDuration: time.Minute,
		HeartbeatInterval: time.Hour, RescueInterval: time.Hour, Clock: env.clock,
		Retry: RetryPolicy{MaxAttempts: 2, Base: time.Millisecond, Max: time.Millisecond}}
	if tune != nil {
		tune(&opts)
	}
	env.eng = New(env.st, box, catalog.Default(), client, log, nil, opts)
	require.NoError(t, env.eng.Start(context.Background()))
	t.Cleanup(func() { env.eng.Stop(time.Second) })

	now := env.eng.now()
	env.pc = uuid.New()
	require.NoError(t, raw.CreateProviderConfig(context.Background(), &flow.ProviderConfig{ID: env.pc,
		Name: "fake-" + env.pc.String()[:8], ProviderID: "http", Config: map[string]any{"base_url": env.fake.URL},
		Status: flow.ConfigActive, Revision: 1, CreatedAt: now, UpdatedAt: now}))
	return env
}

// callNode is an http.request executor node posting to path on the fake.
func (env *testEnv) callNode(id, path string, extra map[string]any) flow.Node {
	data := map[string]any{"executorId": "http.request", "providerConfigId": env.pc.String(), "method": "POST", "path": path}
	for k, v := range extra {
		data[k] = v
	}
	return flow.Node{ID: id, Type: flow.NodeExecutor, Data: data}
}

// workflow stores an active revision of a definition and returns its id.
func (env *testEnv) workflow(nodes []flow.Node, edges ...flow.Edge) uuid.UUID {
	env.t.Helper()
	ctx := context.Background()
	def := flow.Definition{Name: "wf-" + uuid.NewString()[:8], Nodes: nodes, Edges: edges}
	w := flow.NewWorkflow(uuid.New(), def, env.eng.now())
	require.NoError(env.t, env.raw.CreateWorkflow(ctx, w))
	require.NoError(env.t, env.raw.SaveWorkflowVersion(ctx, &flow.WorkflowVersion{WorkflowID: w.ID, Revision: w.Revision,
		Definition: def, CreatedAt: env.eng.now()}))
	return w.ID
}

// insert stores a new execution leased to the engine, as the service does.
func (env *testEnv) insert(workflowID uuid.UUID, input map[string]any) *flow.Execution {
	env.t.Helper()
	return env.insertRevision(workflowID, 1, input)
}

func (env *testEnv) insertRevision(workflowID uuid.UUID, revision int, input map[string]any) *flow.Execution {
	env.t.Helper()
	now := env.eng.now()
	until := env.eng.LeaseUntil(now)
	ex := &flow.Execution{ID: uuid.New(), WorkflowID: workflowID, WorkflowRevision: revision, TriggerNodeID: "t",
		Status: flow.ExecRunning, Input: input, LeaseOwner: env.eng.Owner(), LeaseExpiresAt: &until,
		StartedAt: now, UpdatedAt: now}
	if ex.Input == nil {
		ex.Input = map[string]any{}
	}
	require.NoError(env.t, env.raw.CreateExecution(context.Background(), ex))
	require.True(env.t, env.eng.Reserve())
	return ex
}

// start inserts and hands over an execution the way the service does.
func (env *testEnv) start(workflowID uuid.UUID, input map[string]any) uuid.UUID {
	ex := env.insert(workflowID, input)
	env.eng.DispatchNew(ex, nil)
	return ex.ID
}

// await waits for an execution to reach a terminal state.
func (env *testEnv) await(id uuid.UUID) (*flow.Execution, []flow.Step) {
	env.t.Helper()
	var ex *flow.Execution
	require.Eventually(env.t, func() bool {
		var err error
		ex, err = env.raw.GetExecution(context.Background(), id)
		return err == nil && ex.Status.Terminal()
	}, waitLimit, 2*time.Millisecond, "execution %s did not finish", id)
	steps, err := env.raw.ListSteps(context.Background(), id)
	require.NoError(env.t, err)
	return ex, steps
}

// cancel requests a cancel as the service does: committed in the store,
// then told to the engine (which honours only a cancel still stored). It
// reports Engine.Cancel's answer.
func (env *testEnv) cancel(id uuid.UUID) bool {
	env.t.Helper()
	ctx := context.Background()
	require.NoError(env.t, env.raw.Batch(ctx, func(tx store.Tx) error {
		_, _, err := tx.RequestCancel(ctx, id, env.eng.now())
		return err
	}))
	return env.eng.Cancel(id)
}

// signal waits for ch to fire.
func signal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
}

var linkTA = link("t", "a")
