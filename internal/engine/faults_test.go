package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
	"flowker/internal/store"
	"flowker/internal/store/faultstore"
)

func mapping(source, target string) []any {
	return []any{map[string]any{"source": source, "target": target}}
}

var errDown = store.Unavailable(errors.New("connection refused"))

// Defect 1: the engine must own what DispatchNew hands it; the caller's
// value (a request's buffers) may change right after.
func TestDispatchNewOwnsADeepCopy(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.Concurrency = 1 })
	release := make(chan struct{})
	env.fake.Hold("/hold", release)
	blocker := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/hold", nil)}, linkTA)
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/echo", map[string]any{"inputMapping": mapping("workflow.q", "q")})}, linkTA)

	first := env.start(blocker, nil) // occupies the only worker
	input := map[string]any{"q": "mine"}
	id := env.start(wf, input)
	input["q"] = "someone else's" // the handler's buffers are reused for the next request
	close(release)
	env.await(first)
	ex, _ := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	reqs := env.fake.RequestsTo("/echo")
	require.Len(t, reqs, 1)
	require.JSONEq(t, `{"q":"mine"}`, string(reqs[0].Body))
}

// Defect 3: parallel branches whose mappings read the whole context while
// siblings complete (run with -race).
func TestFanOutMappingsReadTheWholeContext(t *testing.T) {
	env := newTestEnv(t, nil)
	nodes := []flow.Node{trig("t")}
	var edges []flow.Edge
	for i := range 6 {
		id := fmt.Sprintf("n%d", i)
		src := "$"
		if i%2 == 1 {
			src = "nodes"
		}
		nodes = append(nodes, env.callNode(id, "/fan", map[string]any{"inputMapping": mapping(src, "ctx")}))
		edges = append(edges, link("t", id))
	}
	wf := env.workflow(nodes, edges...)
	var ids []uuid.UUID
	for i := range 10 {
		ids = append(ids, env.start(wf, map[string]any{"i": float64(i)}))
	}
	for _, id := range ids {
		ex, steps := env.await(id)
		require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
		require.Len(t, steps, 6)
	}
}

// panicky panics when the engine loads one workflow's revision.
type panicky struct {
	store.Store
	workflow uuid.UUID
}

func (p panicky) GetWorkflowVersion(ctx context.Context, id uuid.UUID, rev int) (*flow.WorkflowVersion, error) {
	if id == p.workflow {
		panic("corrupt revision")
	}
	return p.Store.GetWorkflowVersion(ctx, id, rev)
}

// Defect 4: a panic fails that execution with a recorded reason; the
// process and every other execution go on.
func TestPanicFailsOnlyThatExecution(t *testing.T) {
	env := newTestEnv(t, nil)
	bad := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/bad", nil)}, linkTA)
	good := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/good", nil)}, linkTA)
	env.eng.store = panicky{Store: env.st, workflow: bad}

	badID := env.start(bad, nil)
	goodID := env.start(good, nil)
	ex, _ := env.await(badID)
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Contains(t, ex.ErrorMessage, "internal error, execution stopped: corrupt revision")
	ex, _ = env.await(goodID)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Empty(t, env.fake.RequestsTo("/bad"))
	// The engine still takes work.
	ex, _ = env.await(env.start(good, nil))
	require.Equal(t, flow.ExecCompleted, ex.Status)
}

// Defect 4: a revision that cannot be loaded fails permanently with the
// cause, without calling anyone.
func TestUnloadableRevisionFailsWithItsCause(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/never", nil)}, linkTA)
	ex := env.insertRevision(wf, 9, nil)          // no such revision row
	env.eng.Dispatch(context.Background(), ex.ID) // read back from the store, as after a restart
	got, _ := env.await(ex.ID)
	require.Equal(t, flow.ExecFailed, got.Status)
	require.Contains(t, got.ErrorMessage, "workflow revision")
	require.Empty(t, env.fake.RequestsTo("/never"))
}

// Defect 5: one transient read error must not strand an execution as
// running: it is retried here, with backoff, until it completes.
func TestTransientLoadErrorIsRetried(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/ok", nil)}, linkTA)
	ex := env.insert(wf, nil)
	env.st.Fail("GetExecution", faultstore.Once, errDown)
	env.eng.Dispatch(context.Background(), ex.ID)
	env.clock.waitTimers(t, idleTimers+1, "the retry backoff")
	env.clock.Advance(retryMax)
	got, _ := env.await(ex.ID)
	require.Equal(t, flow.ExecCompleted, got.Status, got.ErrorMessage)
	require.GreaterOrEqual(t, env.st.Calls("GetExecution"), 2)
}

// A progress write that fails while the database restarts is retried with
// backoff; no provider call is repeated.
func TestTransientSaveErrorIsRetriedWithoutRepeatingCalls(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNode("b", "/b", nil)},
		linkTA, link("a", "b"))
	env.st.Fail("SaveProgress", faultstore.Once, errDown)
	id := env.start(wf, nil)
	env.clock.waitTimers(t, idleTimers+1, "the save backoff")
	env.clock.Advance(time.Second)
	ex, steps := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Len(t, steps, 2)
	require.Len(t, env.fake.RequestsTo("/a"), 1)
	require.Len(t, env.fake.RequestsTo("/b"), 1)
}

// A database down for longer than the save's retries: the attempt is given
// up and run again here from what is durable; a call whose step was not
// stored is sent again with the same Idempotency-Key.
func TestLongOutageResumesWithTheSameKey(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNode("b", "/b", nil)},
		linkTA, link("a", "b"))
	env.st.Fail("SaveProgress", faultstore.Always, errDown)
	id := env.start(wf, nil)
	for range saveAttempts - 1 {
		env.clock.waitTimers(t, idleTimers+1, "a save backoff")
		env.clock.Advance(10 * time.Second)
	}
	env.clock.waitTimers(t, idleTimers+1, "the attempt's backoff")
	env.st.Clear("SaveProgress")
	env.clock.Advance(retryMax)
	ex, _ := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	calls := env.fake.RequestsTo("/a")
	require.Len(t, calls, 2, "a's step was never stored, so it runs again")
	require.Equal(t, calls[0].Header.Get("Idempotency-Key"), calls[1].Header.Get("Idempotency-Key"))
	require.Len(t, env.fake.RequestsTo("/b"), 1)
}

// Defect 6: a step the store refuses fails the execution with the cause;
// the provider is not called again.
func TestUnstorableProgressFailsTheExecution(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNode("b", "/b", nil)},
		linkTA, link("a", "b"))
	env.st.Fail("SaveProgress", faultstore.Once, store.Unstorable(nil, "step output contains a NUL character"))
	ex, steps := env.await(env.start(wf, nil))
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Contains(t, ex.ErrorMessage, "progress could not be stored")
	require.Contains(t, ex.ErrorMessage, "NUL")
	require.Len(t, steps, 1, "the refused step is kept, without its payload")
	require.Nil(t, steps[0].Output)
	require.Len(t, env.fake.RequestsTo("/a"), 1)
	require.Empty(t, env.fake.RequestsTo("/b"))
}

// A hung progress write ends with the execution's deadline: the execution
// fails as timed out (its terminal write goes through once the store
// answers again; in production the group commit's own deadline ends a hung
// statement) and nothing after the hung checkpoint is called.
func TestHungSaveEndsAtTheDeadline(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.ExecutionTimeout = 300 * time.Millisecond })
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNode("b", "/b", nil)},
		linkTA, link("a", "b"))
	env.st.Fail("SaveProgress", faultstore.Hang, nil)
	id := env.start(wf, nil)
	called := env.st.Called("SaveProgress")
	signal(t, called, "the hung checkpoint")
	signal(t, called, "the terminal write, after the deadline")
	env.st.Clear("SaveProgress")
	ex, _ := env.await(id)
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Contains(t, ex.ErrorMessage, "timeout")
	require.Empty(t, env.fake.RequestsTo("/b"))
}

// Providers that answer garbage: every answer is stored (made storable) on
// both stores, and each provider is called once.
func TestProviderGarbageIsStoredOnce(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var env *testEnv
			if name == "sqlite" {
				env = newTestEnv(t, nil)
			} else {
				env = newPostgresEnv(t, nil)
			}
			deep := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
			answers := map[string]providertest.Response{
				"/nul-json":  {Body: `{"name":"a\u0000b","k\u0000":1}`},
				"/nul-text":  {Body: "a\x00b", Header: map[string][]string{"Content-Type": {"text/plain"}}},
				"/bad-utf8":  {Body: "caf\xe9", Header: map[string][]string{"Content-Type": {"text/plain"}}},
				"/bad-json":  {Body: `{"name":"caf` + "\xe9" + `"}`},
				"/deep-json": {Body: deep},
				"/big-json":  {Body: `{"blob":"` + strings.Repeat("x", 512<<10) + `"}`},
			}
			var mu sync.Mutex
			ids := map[string]uuid.UUID{}
			for path, r := range answers {
				env.fake.Respond(path, r)
				wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", path, nil)}, linkTA)
				mu.Lock()
				ids[path] = env.start(wf, nil)
				mu.Unlock()
			}
			for path, id := range ids {
				ex, steps := env.await(id)
				require.Equal(t, flow.ExecCompleted, ex.Status, "%s: %s", path, ex.ErrorMessage)
				require.Len(t, env.fake.RequestsTo(path), 1, path)
				out, err := json.Marshal(steps[0].Output)
				require.NoError(t, err)
				require.NotContains(t, string(out), `\u0000`, path)
			}
		})
	}
}
