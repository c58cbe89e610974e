package main

// The crash test: executions accepted by a flowker that is killed with
// SIGKILL mid-flight all finish after restarts on the same database, each
// exactly once, and no step recorded as completed before a kill calls its
// provider again. Three lives per store:
//
//  1. submissions under way, a quarter of the steps failing twice with 503
//     (so retries with backoff are in progress), cancels requested for some
//     running executions — kill -9 while some cancels are still unanswered;
//  2. a restart, killed again (kill -9) while it is recovering that work;
//  3. a final restart that finishes everything.
//
// It is slow (10–25 s per store), so it runs only with FLOWKER_CRASH_TEST=1
// (scripts/ci-crash.sh, called by .ci/run); PostgreSQL needs
// FLOWKER_TEST_DATABASE_URL as the other tests.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx": reads the PostgreSQL tables between a kill and the restart
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // driver "sqlite": reads the SQLite file between a kill and the restart

	"flowker/internal/store/storetest"
)

const (
	crashExecutions = 600                                            // accepted executions, at least 500 (the bar)
	crashSubmitters = 8                                              // concurrent clients submitting them
	crashKillShare  = 0.2                                            // first kill once this share of the expected provider calls has arrived,
	crashKillSubmit = 0.9                                            // or this share of the executions was accepted (some are still to submit)
	crashCancels    = 40                                             // running executions whose cancel is requested just before the first kill
	crashRecovering = 30                                             // second kill once the restarted process made this many calls
	crashFlakyEvery = 4                                              // one step in this many fails its first crashFlakyFails calls with 503
	crashFlakyFails = 2                                              // (retried: ENGINE_MAX_ATTEMPTS is 5)
	crashDeadline   = 90 * time.Second                               // for each wait; a run normally takes 10–25 s per store
	crashSecretKey  = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=" // throwaway, as TestPostgresReady
)

// crashNodes are the executor nodes of the workflow, in order: trigger → a → b → c.
var crashNodes = []string{"a", "b", "c"}

func TestCrashRecovery(t *testing.T) { forEachCrashStore(t, crashRun) }

// forEachCrashStore runs a crash test on SQLite, then on PostgreSQL (with
// FLOWKER_TEST_DATABASE_URL), each time on a fresh database; only with
// FLOWKER_CRASH_TEST=1.
func forEachCrashStore(t *testing.T, run func(*testing.T, crashStore)) {
	if os.Getenv("FLOWKER_CRASH_TEST") != "1" {
		t.Skip("crash test skipped: set FLOWKER_CRASH_TEST=1 to run it (bash scripts/ci-crash.sh)")
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "flowker.db")
		run(t, crashStore{
			name: "sqlite",
			env:  []string{"DATABASE_URL=sqlite:" + path},
			// Read-only: the test must not change what the next start finds.
			open: func() (*sql.DB, error) { return sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)") },
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := storetest.PostgresURL(t) // skips without FLOWKER_TEST_DATABASE_URL
		run(t, crashStore{
			name: "postgres",
			// A random lease owner per start: a killed process's leases
			// must lapse before the next one claims them, so keep them short.
			env:  []string{"DATABASE_URL=" + url, "FLOWKER_SECRET_KEY=" + crashSecretKey, "ENGINE_LEASE_DURATION=2s"},
			open: func() (*sql.DB, error) { return sql.Open("pgx", url) },
		})
	})
}

type crashStore struct {
	name string
	env  []string
	open func() (*sql.DB, error)
}

// crashFake is the slow, flaky provider: it answers every call after
// 20–50 ms, 503 to the first crashFlakyFails calls of the steps flaky
// picks (one in crashFlakyEvery), and records each call's Idempotency-Key,
// path, body, outcome and the process life it arrived in.
type crashFake struct {
	srv   *httptest.Server
	total atomic.Int64
	life  atomic.Int32          // 1, 2, 3: set by the test between a kill and the next start
	flaky func(key string) bool // nil: no call fails
	delay atomic.Int64          // how long it takes to answer, in ns; 0: 20 to 50 ms

	mu    sync.Mutex
	calls []fakeCall
	seen  map[string]int // calls so far per key
}

type fakeCall struct {
	key, path string
	body      []byte
	life      int
	failed    bool // answered 503: the provider did nothing
}

// flaky reports whether the step with this key fails its first calls.
func flaky(key string) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return h.Sum32()%crashFlakyEvery == 0
}

func newCrashFake(t *testing.T, flaky func(key string) bool) *crashFake {
	f := &crashFake{seen: map[string]int{}, flaky: flaky}
	f.life.Store(1)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.Header.Get("Idempotency-Key")
		f.mu.Lock()
		fail := f.flaky != nil && f.flaky(key) && f.seen[key] < crashFlakyFails
		f.seen[key]++
		f.calls = append(f.calls, fakeCall{key: key, path: r.URL.Path, body: body, life: int(f.life.Load()), failed: fail})
		f.mu.Unlock()
		f.total.Add(1)
		delay := time.Duration(f.delay.Load())
		if delay == 0 {
			delay = time.Duration(20+rand.IntN(31)) * time.Millisecond
		}
		select { // answer late; stop early when the caller is gone (killed, or its execution cancelled)
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"try again"}`)
			return
		}
		_, _ = fmt.Fprintf(w, `{"ok":true,"step":%q}`, r.URL.Path)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// snapshot returns a copy of the calls so far.
func (f *crashFake) snapshot() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// outcome is what a submitter learned about one execution.
type outcome struct {
	code int    // 0: no answer (not sent, or the process died under it)
	id   string // executionId of a 201/200
}

// cancelOutcome is what the client learned of a cancel request.
type cancelOutcome int

const (
	cancelUnknown  cancelOutcome = iota // no answer: the process died under it (requested or not)
	cancelAcked                         // 200: the cancel request is durable
	cancelFinished                      // 422 FLK-0513: the execution had already finished
)

func crashRun(t *testing.T, st crashStore) {
	fake := newCrashFake(t, flaky)
	env := append([]string{"SSRF_ALLOW_PRIVATE=true", "LOG_LEVEL=warn",
		// Few workers, so the work is still mid-flight when the kill comes.
		"ENGINE_CONCURRENCY=16",
		// The flaky steps' 503s must not open the provider's circuit (that
		// fails executions, on purpose; not what this test is about).
		"ENGINE_BREAKER_FAILURES=1000"}, st.env...)
	p1 := start(t, env...)
	p1.waitReady()
	client := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: crashSubmitters * 2}}
	t.Cleanup(client.CloseIdleConnections)

	workflowID := crashWorkflow(t, client, p1.addr, fake.srv.URL)
	key := func(i int) string { return "crash-" + strconv.Itoa(i) }

	// Life 1. Submit crashExecutions asynchronously; once 20% of the
	// provider calls have arrived (or 90% of the executions were accepted:
	// some submissions must be cut by the kill), request cancels and kill
	// while some of them are still unanswered.
	var outMu sync.Mutex
	outcomes := make([]outcome, crashExecutions)
	var killed atomic.Bool
	var accepted atomic.Int64
	next := make(chan int)
	var submitters sync.WaitGroup
	for range crashSubmitters {
		submitters.Go(func() {
			for i := range next {
				code, body, err := postJSON(client, "http://"+p1.addr+"/v1/workflows/"+workflowID+"/executions",
					key(i), map[string]any{"inputData": map[string]any{"i": i}})
				switch {
				case err != nil && killed.Load():
					continue // the process died under the request: outcome unknown
				case err != nil:
					t.Errorf("submitting %s: %v", key(i), err)
				case code != http.StatusCreated:
					t.Errorf("submitting %s: status %d: %v", key(i), code, body)
				default:
					outMu.Lock()
					outcomes[i] = outcome{code: code, id: fmt.Sprint(body["executionId"])}
					outMu.Unlock()
					accepted.Add(1)
				}
			}
		})
	}
	submitted := time.Now()
	killAt := int64(crashKillShare * float64(crashExecutions*len(crashNodes)))
	go func() {
		defer close(next)
		for i := range crashExecutions {
			if killed.Load() {
				return
			}
			next <- i
		}
	}()
	acceptAt := int64(crashKillSubmit * crashExecutions)
	waitFor(t, "the provider to receive "+strconv.FormatInt(killAt, 10)+" calls", func() bool {
		return fake.total.Load() >= killAt || accepted.Load() >= acceptAt
	})

	// Cancel running executions (a step called, the last one not yet;
	// then queued ones), all at once; kill as soon as half are answered.
	targets := runningExecutions(fake.snapshot(), outcomes, &outMu, crashCancels)
	require.NotEmpty(t, targets, "no running execution to cancel")
	cancels := make([]cancelOutcome, len(targets))
	var answered atomic.Int32
	var cancellers sync.WaitGroup
	for j, i := range targets {
		cancellers.Go(func() {
			defer answered.Add(1)
			code, body, err := postJSON(client, "http://"+p1.addr+"/v1/executions/"+outcomes[i].id+"/cancel", "", nil)
			switch {
			case err != nil: // killed under it
			case code == http.StatusOK && body["cancelRequested"] == true:
				cancels[j] = cancelAcked
			case code == http.StatusUnprocessableEntity && body["code"] == "FLK-0513":
				cancels[j] = cancelFinished
			default: // a 5xx too: cancels are group-committed and must not deadlock with the engine's writes
				t.Errorf("cancelling %s: status %d: %v", outcomes[i].id, code, body)
			}
		})
	}
	waitFor(t, "half of the cancels to be answered", func() bool { return int(answered.Load()) >= len(targets)/2 })
	killed.Store(true)
	require.NoError(t, p1.cmd.Process.Kill()) // SIGKILL
	killTime := time.Now()
	callsAtKill := settleKill(t, p1, fake)
	submitters.Wait()
	cancellers.Wait()
	if t.Failed() {
		t.Logf("stderr of the killed process:\n%s", p1.stderr.String())
	}
	require.False(t, t.Failed(), "submissions or cancels failed before the kill")
	acceptedBeforeKill := 0
	for _, o := range outcomes {
		if o.code == http.StatusCreated {
			acceptedBeforeKill++
		}
	}
	var acked []int // outcomes indexes of executions whose cancel was acknowledged
	cancelled := map[int]bool{}
	unanswered := 0
	for j, i := range targets {
		cancelled[i] = true
		switch cancels[j] {
		case cancelAcked:
			acked = append(acked, i)
		case cancelUnknown:
			unanswered++
		}
	}

	// Before restarting: what the database says is done.
	before := readCrashDB(t, st)
	for i, o := range outcomes {
		if o.code == http.StatusCreated {
			require.Contains(t, before.byID, o.id, "execution %s (%s) was answered 201 but is not in the database after the kill", o.id, key(i))
		}
	}
	for _, i := range acked {
		ex := before.byID[outcomes[i].id]
		require.True(t, ex.cancelRequested || ex.status == "cancelled",
			"execution %s: cancel answered 200 before the kill but not durable: %+v", outcomes[i].id, ex)
	}
	doneAtKill1 := before.doneKeys()
	require.NotEmpty(t, doneAtKill1, "no step was completed before the kill: kill point too early to test anything")
	retrying := retryingAt(callsAtKill, doneAtKill1)

	// Life 2: restart on the same database, kill -9 again while it is
	// recovering (it has made crashRecovering calls, the work is unfinished).
	restarted := time.Now()
	p2 := start(t, env...)
	recoverCalls := int64(len(callsAtKill) + crashRecovering)
	waitFor(t, "the restarted process to make "+strconv.Itoa(crashRecovering)+" calls", func() bool {
		select {
		case <-p2.exited:
			t.Fatalf("flowker exited (code %d) while recovering; stderr:\n%s", p2.cmd.ProcessState.ExitCode(), p2.stderr.String())
		default:
		}
		return fake.total.Load() >= recoverCalls
	})
	require.NoError(t, p2.cmd.Process.Kill())
	recoveringFor := time.Since(restarted)
	callsAtKill2 := settleKill(t, p2, fake)
	mid := readCrashDB(t, st)
	doneAtKill2 := mid.doneKeys()
	require.Less(t, mid.terminal(), crashExecutions, "everything finished before the second kill: it did not hit recovery")
	retrying2 := retryingAt(callsAtKill2, doneAtKill2)
	require.NotZero(t, retrying+retrying2, "no step was between retries at either kill: nothing tested about retries")

	// Life 3: the final restart. Executions whose submission got no answer
	// (or was never sent) are submitted again with the same key: a
	// committed one is replayed, not duplicated.
	restarted3 := time.Now()
	p3 := start(t, append(env, "ENGINE_CONCURRENCY=64")...) // no kill to come: finish sooner
	p3.waitReady()
	ready := time.Since(restarted3)
	resubmitted := 0
	for i := range outcomes {
		if outcomes[i].code != 0 {
			continue
		}
		resubmitted++
		code, body, err := postJSON(client, "http://"+p3.addr+"/v1/workflows/"+workflowID+"/executions",
			key(i), map[string]any{"inputData": map[string]any{"i": i}})
		require.NoError(t, err)
		require.Contains(t, []int{http.StatusCreated, http.StatusOK}, code, "resubmitting %s: %v", key(i), body)
		outcomes[i] = outcome{code: code, id: fmt.Sprint(body["executionId"])}
	}

	var after crashDB
	waitFor(t, "every execution to finish after the last restart", func() bool {
		after = readCrashDB(t, st)
		return after.terminal() == crashExecutions
	})
	recovery := time.Since(restarted3)

	// Every accepted execution finished, exactly once: completed with one
	// completed step per node carrying the step's stable idempotency key;
	// or, when its cancel was requested, cancelled with no node completed
	// twice.
	require.Len(t, after.byID, crashExecutions, "one row per accepted execution, no more")
	statuses := map[string]int{}
	for i, o := range outcomes {
		ex, ok := after.byID[o.id]
		require.True(t, ok, "execution %s (%s) is lost", o.id, key(i))
		require.Equal(t, key(i), ex.idemKey)
		statuses[ex.status]++
		steps := after.steps[o.id]
		if cancelled[i] && ex.status == "cancelled" {
			completed := map[string]bool{}
			for _, s := range steps {
				if s.status == "completed" {
					require.False(t, completed[s.node], "execution %s node %s completed twice: %+v", o.id, s.node, steps)
					completed[s.node] = true
					require.Equal(t, o.id+"/"+s.node, s.idemKey, "execution %s node %s", o.id, s.node)
				}
			}
			continue
		}
		require.Equal(t, "completed", ex.status, "execution %s (cancel requested: %v)", o.id, cancelled[i])
		require.Len(t, steps, len(crashNodes), "execution %s steps: %+v", o.id, steps)
		for j, node := range crashNodes {
			require.Equal(t, node, steps[j].node, "execution %s step %d", o.id, j+1)
			require.Equal(t, "completed", steps[j].status, "execution %s node %s", o.id, node)
			require.Equal(t, o.id+"/"+node, steps[j].idemKey, "execution %s node %s", o.id, node)
		}
	}

	// The provider. A call answered 503 did nothing; any other call did
	// (or may have: one cut by a kill). In each process life a step makes
	// at most one such call — two mean the step ran twice (the execution
	// ran twice at once); one in flight at a kill may be made once more in
	// the next life. No call after a kill for a step recorded completed
	// before it; none at all after the first kill for an execution whose
	// cancel was acknowledged before it.
	calls := fake.snapshot()
	type lifeKey struct {
		life int
		key  string
	}
	effective := map[lifeKey]int{}
	succeeded := map[string]bool{}
	ackedIDs := map[string]bool{}
	for _, i := range acked {
		ackedIDs[outcomes[i].id] = true
	}
	repeated := 0
	for n, c := range calls {
		if c.life > 1 {
			require.False(t, doneAtKill1[c.key], "call %d in life %d (%s %s) repeats a step recorded completed before the first kill",
				n, c.life, c.path, c.key)
			id, _, _ := strings.Cut(c.key, "/")
			require.False(t, ackedIDs[id], "call %d in life %d (%s %s): its execution's cancel was acknowledged before the first kill",
				n, c.life, c.path, c.key)
		}
		if c.life > 2 {
			require.False(t, doneAtKill2[c.key], "call %d in life 3 (%s %s) repeats a step recorded completed before the second kill",
				n, c.path, c.key)
		}
		if c.failed {
			continue
		}
		lk := lifeKey{c.life, c.key}
		effective[lk]++
		require.LessOrEqual(t, effective[lk], 1, "Idempotency-Key %s called twice in life %d: the step ran twice", c.key, c.life)
		if succeeded[c.key] {
			repeated++
		}
		succeeded[c.key] = true
	}
	retried := 0
	fake.mu.Lock()
	for k, n := range fake.seen {
		if n > 1 && flaky(k) {
			retried++
		}
	}
	fake.mu.Unlock()
	for _, o := range outcomes {
		if after.byID[o.id].status == "completed" {
			for _, node := range crashNodes {
				require.True(t, succeeded[o.id+"/"+node], "step %s/%s completed without a successful call", o.id, node)
			}
		}
	}

	t.Logf("%s: %d executions (%d answered 201 before the first kill, %d submitted again after the last restart); "+
		"kill 1 after %s, at %d/%d provider calls, with %d executions and %d steps recorded completed, %d steps between "+
		"retries, %d cancels requested (%d acknowledged, %d unanswered); kill 2 during recovery, %s after the restart, "+
		"at %d calls, with %d executions finished, %d steps between retries; last restart: ready in %s, all %d finished %s later (%s after the "+
		"first kill): %v; %d flaky steps retried, %d steps called again after a kill (same key), 0 completed steps repeated",
		st.name, crashExecutions, acceptedBeforeKill, resubmitted,
		killTime.Sub(submitted).Round(time.Millisecond), len(callsAtKill), crashExecutions*len(crashNodes),
		before.completed, len(doneAtKill1), retrying, len(targets), len(acked), unanswered,
		recoveringFor.Round(time.Millisecond), len(callsAtKill2), mid.terminal(), retrying2,
		ready.Round(time.Millisecond), crashExecutions, recovery.Round(time.Millisecond),
		time.Since(killTime).Round(time.Millisecond), statuses, retried, repeated)
	if w := warnings(p1.stderr.String() + p2.stderr.String() + p3.stderr.String()); w != "" {
		t.Logf("%s: flowker warned: %s", st.name, w)
	}
}

// settleKill waits for a killed process to be gone, lets the fake read
// what the process sent before dying, moves the fake to the next life and
// returns the calls made until the kill.
func settleKill(t *testing.T, p *proc, fake *crashFake) []fakeCall {
	t.Helper()
	p.wait(deadline)
	time.Sleep(50 * time.Millisecond)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	fake.life.Add(1)
	return append([]fakeCall(nil), fake.calls...)
}

// runningExecutions picks up to n accepted executions that have not called
// their last step: first those that called a step (a worker runs them),
// then queued ones.
func runningExecutions(calls []fakeCall, outcomes []outcome, mu *sync.Mutex, n int) []int {
	started, last := map[string]bool{}, map[string]bool{}
	for _, c := range calls {
		id, node, _ := strings.Cut(c.key, "/")
		started[id] = true
		if node == crashNodes[len(crashNodes)-1] {
			last[id] = true
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var out []int
	for _, wantStarted := range []bool{true, false} {
		for i, o := range outcomes {
			if len(out) < n && o.code == http.StatusCreated && started[o.id] == wantStarted && !last[o.id] {
				out = append(out, i)
			}
		}
	}
	return out
}

// retryingAt counts the steps whose last call before the kill was answered
// 503 and that were not recorded completed: their retry was pending.
func retryingAt(calls []fakeCall, done map[string]bool) int {
	lastFailed := map[string]bool{}
	for _, c := range calls {
		lastFailed[c.key] = c.failed
	}
	n := 0
	for k, failed := range lastFailed {
		if failed && !done[k] {
			n++
		}
	}
	return n
}

// warnings counts the distinct warning and error messages in a log
// ("message (error) ×n"), the error text cut short.
func warnings(log string) string {
	counts := map[string]int{}
	var order []string
	for _, line := range strings.Split(log, "\n") {
		var l struct {
			Level, Message string
			Error          string `json:"error.message"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || (l.Level != "warn" && l.Level != "error") ||
			strings.HasPrefix(l.Message, "authentication is disabled") {
			continue
		}
		if len(l.Error) > 80 {
			l.Error = l.Error[:80] + "…"
		}
		k := l.Message + " (" + l.Error + ")"
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	out := make([]string, len(order))
	for i, k := range order {
		out[i] = fmt.Sprintf("%s ×%d", k, counts[k])
	}
	return strings.Join(out, "; ")
}

// crashWorkflow creates the http provider configuration and an active
// workflow trigger → a → b → c of http.request nodes; it returns its id.
func crashWorkflow(t *testing.T, client *http.Client, addr, fakeURL string) string {
	base := "http://" + addr
	code, pc, err := postJSON(client, base+"/v1/provider-configurations", "", map[string]any{
		"name": "crash-fake", "providerId": "http", "config": map[string]any{"base_url": fakeURL}})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, code, "provider configuration: %v", pc)
	nodes := []map[string]any{{"id": "hook", "type": "trigger",
		"data": map[string]any{"triggerType": "webhook", "path": "/crash", "method": "POST"}}}
	var edges []map[string]any
	prev := "hook"
	for _, n := range crashNodes {
		nodes = append(nodes, map[string]any{"id": n, "type": "executor", "name": "Step " + n, "data": map[string]any{
			"executorId": "http.request", "providerConfigId": pc["id"], "method": "POST", "path": "/" + n,
			"body": map[string]any{"step": n}}})
		edges = append(edges, map[string]any{"id": prev + "-" + n, "source": prev, "target": n})
		prev = n
	}
	code, wf, err := postJSON(client, base+"/v1/workflows", "", map[string]any{"name": "crash", "nodes": nodes, "edges": edges})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, code, "workflow: %v", wf)
	id := fmt.Sprint(wf["workflowId"])
	code, body, err := postJSON(client, base+"/v1/workflows/"+id+"/activate", "", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "activate: %v", body)
	return id
}

// postJSON posts body as JSON (with an Idempotency-Key when key is set)
// and decodes the JSON answer.
func postJSON(client *http.Client, url, key string, body any) (int, map[string]any, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s: %d %q", url, resp.StatusCode, raw)
	}
	return resp.StatusCode, out, nil
}

// waitFor polls cond every 20 ms until it holds or crashDeadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(crashDeadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", crashDeadline, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// crashDB is the executions and steps as the database holds them.
type crashDB struct {
	byID      map[string]crashExec
	steps     map[string][]crashStep // by execution id, in step order
	completed int
}

type crashExec struct {
	idemKey, status string
	cancelRequested bool
}

// doneKeys returns the Idempotency-Keys of the steps recorded completed.
func (d crashDB) doneKeys() map[string]bool {
	out := map[string]bool{}
	for _, steps := range d.steps {
		for _, s := range steps {
			if s.status == "completed" {
				out[s.idemKey] = true
			}
		}
	}
	return out
}

// terminal counts the executions that finished, one way or another.
func (d crashDB) terminal() int {
	n := 0
	for _, ex := range d.byID {
		if ex.status == "completed" || ex.status == "failed" || ex.status == "cancelled" {
			n++
		}
	}
	return n
}

type crashStep struct {
	number                int
	node, status, idemKey string
}

func readCrashDB(t *testing.T, st crashStore) crashDB {
	t.Helper()
	db, err := st.open()
	require.NoError(t, err)
	defer db.Close()
	out := crashDB{byID: map[string]crashExec{}, steps: map[string][]crashStep{}}
	crashRows(t, db, `SELECT CAST(id AS TEXT), COALESCE(idempotency_key, ''), status, cancel_requested
		FROM executions`, func(rows *sql.Rows) {
		var id string
		var ex crashExec
		require.NoError(t, rows.Scan(&id, &ex.idemKey, &ex.status, &ex.cancelRequested))
		out.byID[id] = ex
		if ex.status == "completed" {
			out.completed++
		}
	})
	crashRows(t, db, `SELECT CAST(execution_id AS TEXT), step_number, node_id, status,
		CAST(call_details AS TEXT) FROM execution_steps ORDER BY execution_id, step_number`, func(rows *sql.Rows) {
		var id string
		var s crashStep
		var details sql.NullString
		require.NoError(t, rows.Scan(&id, &s.number, &s.node, &s.status, &details))
		if details.Valid {
			var d struct {
				IdempotencyKey string `json:"idempotencyKey"`
			}
			require.NoError(t, json.Unmarshal([]byte(details.String), &d), "call_details of %s step %d", id, s.number)
			s.idemKey = d.IdempotencyKey
		}
		out.steps[id] = append(out.steps[id], s)
	})
	for _, steps := range out.steps {
		sort.Slice(steps, func(i, j int) bool { return steps[i].number < steps[j].number })
	}
	return out
}

// crashRows runs a query of the test's reads of the database and calls
// scan for each row; it ends within 10 s.
func crashRows(t *testing.T, db *sql.DB, query string, scan func(*sql.Rows)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, query)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		scan(rows)
	}
	require.NoError(t, rows.Err())
}
