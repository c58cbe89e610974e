package main

// The crash test: executions accepted by a flowker that is killed with
// SIGKILL mid-flight all complete after a restart on the same database,
// each exactly once, and no step recorded as completed before the kill
// calls its provider again. It is slow (a few seconds per store), so it
// runs only with FLOWKER_CRASH_TEST=1 (scripts/ci-crash.sh, called by
// .ci/run); PostgreSQL needs FLOWKER_TEST_DATABASE_URL as the other tests.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx": reads the PostgreSQL tables between the kill and the restart
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // driver "sqlite": reads the SQLite file between the kill and the restart

	"flowker/internal/store/storetest"
)

const (
	crashExecutions = 600                                            // accepted executions, at least 500 (the bar)
	crashSubmitters = 8                                              // concurrent clients submitting them
	crashKillShare  = 0.3                                            // kill once this share of the expected provider calls has arrived
	crashDeadline   = 90 * time.Second                               // for each wait; a run normally takes 5–30 s per store
	crashSecretKey  = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=" // throwaway, as TestPostgresReady
)

// crashNodes are the executor nodes of the workflow, in order: trigger → a → b → c.
var crashNodes = []string{"a", "b", "c"}

func TestCrashRecovery(t *testing.T) {
	if os.Getenv("FLOWKER_CRASH_TEST") != "1" {
		t.Skip("crash test skipped: set FLOWKER_CRASH_TEST=1 to run it (bash scripts/ci-crash.sh)")
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "flowker.db")
		crashRun(t, crashStore{
			name: "sqlite",
			env:  []string{"DATABASE_URL=sqlite:" + path},
			// Read-only: the test must not change what the next start finds.
			open: func() (*sql.DB, error) { return sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)") },
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := storetest.PostgresURL(t) // skips without FLOWKER_TEST_DATABASE_URL
		crashRun(t, crashStore{
			name: "postgres",
			// A random lease owner per start: the killed process's leases
			// must lapse before the new one claims them, so keep them short.
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

// crashFake is the slow provider: it answers every call after 20–50 ms and
// records each call's Idempotency-Key and path in arrival order.
type crashFake struct {
	srv   *httptest.Server
	total atomic.Int64

	mu    sync.Mutex
	calls []fakeCall
}

type fakeCall struct {
	key, path string
}

func newCrashFake(t *testing.T) *crashFake {
	f := &crashFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		f.mu.Lock()
		f.calls = append(f.calls, fakeCall{key: r.Header.Get("Idempotency-Key"), path: r.URL.Path})
		f.mu.Unlock()
		f.total.Add(1)
		select { // answer late; stop early when the caller is gone (killed)
		case <-time.After(time.Duration(20+rand.IntN(31)) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
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

func crashRun(t *testing.T, st crashStore) {
	fake := newCrashFake(t)
	env := append([]string{"SSRF_ALLOW_PRIVATE=true", "LOG_LEVEL=warn",
		// Few workers, so the work is still mid-flight when the kill comes.
		"ENGINE_CONCURRENCY=16"}, st.env...)
	p1 := start(t, env...)
	p1.waitReady()
	client := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: crashSubmitters * 2}}
	t.Cleanup(client.CloseIdleConnections)

	workflowID := crashWorkflow(t, client, p1.addr, fake.srv.URL)
	key := func(i int) string { return "crash-" + strconv.Itoa(i) }

	// Submit crashExecutions asynchronously; kill once 30% of the provider
	// calls have arrived, whether or not every submission was answered.
	outcomes := make([]outcome, crashExecutions)
	var killed atomic.Bool
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
					outcomes[i] = outcome{code: code, id: fmt.Sprint(body["executionId"])}
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
	waitFor(t, "the provider to receive "+strconv.FormatInt(killAt, 10)+" calls", func() bool {
		return fake.total.Load() >= killAt
	})
	killed.Store(true)
	require.NoError(t, p1.cmd.Process.Kill()) // SIGKILL
	killTime := time.Now()
	p1.wait(deadline)
	submitters.Wait()
	require.False(t, t.Failed(), "submissions failed before the kill")
	callsAtKill := fake.snapshot()
	acceptedBeforeKill := 0
	for _, o := range outcomes {
		if o.code == http.StatusCreated {
			acceptedBeforeKill++
		}
	}

	// Before restarting: what the database says is done.
	before := readCrashDB(t, st)
	for i, o := range outcomes {
		if o.code == http.StatusCreated {
			require.Contains(t, before.byID, o.id, "execution %s (%s) was answered 201 but is not in the database after the kill", o.id, key(i))
		}
	}
	doneKeys := map[string]bool{} // Idempotency-Keys of steps recorded completed before the restart
	for _, steps := range before.steps {
		for _, s := range steps {
			if s.status == "completed" {
				doneKeys[s.idemKey] = true
			}
		}
	}
	require.NotEmpty(t, doneKeys, "no step was completed before the kill: kill point too early to test anything")

	// Restart on the same database.
	restarted := time.Now()
	p2 := start(t, env...)
	p2.waitReady()
	ready := time.Since(restarted)
	// Executions whose submission got no answer (or was never sent) are
	// submitted again with the same key: a committed one is replayed, not
	// duplicated.
	resubmitted := 0
	for i := range outcomes {
		if outcomes[i].code != 0 {
			continue
		}
		resubmitted++
		code, body, err := postJSON(client, "http://"+p2.addr+"/v1/workflows/"+workflowID+"/executions",
			key(i), map[string]any{"inputData": map[string]any{"i": i}})
		require.NoError(t, err)
		require.Contains(t, []int{http.StatusCreated, http.StatusOK}, code, "resubmitting %s: %v", key(i), body)
		outcomes[i] = outcome{code: code, id: fmt.Sprint(body["executionId"])}
	}

	var after crashDB
	waitFor(t, "every execution to complete after the restart", func() bool {
		after = readCrashDB(t, st)
		return after.completed == crashExecutions
	})
	recovery := time.Since(restarted)

	// Every accepted execution completed, exactly once, with one completed
	// step per node carrying the step's stable idempotency key.
	require.Len(t, after.byID, crashExecutions, "one row per accepted execution, no more")
	for i, o := range outcomes {
		ex, ok := after.byID[o.id]
		require.True(t, ok, "execution %s (%s) is lost", o.id, key(i))
		require.Equal(t, key(i), ex.idemKey)
		require.Equal(t, "completed", ex.status, "execution %s", o.id)
		steps := after.steps[o.id]
		require.Len(t, steps, len(crashNodes), "execution %s steps: %+v", o.id, steps)
		for j, node := range crashNodes {
			require.Equal(t, node, steps[j].node, "execution %s step %d", o.id, j+1)
			require.Equal(t, "completed", steps[j].status, "execution %s node %s", o.id, node)
			require.Equal(t, o.id+"/"+node, steps[j].idemKey, "execution %s node %s", o.id, node)
		}
	}

	// The provider: no call after the kill for a step recorded completed
	// before it; a step in flight at the kill may be called once more, after
	// the restart. Two calls with one key in the same process life mean the
	// step ran twice (the execution ran twice at once).
	calls := fake.snapshot()
	perKey := map[string]int{}
	for i, c := range calls {
		perKey[c.key]++
		if i >= len(callsAtKill) {
			require.False(t, doneKeys[c.key], "call %d after the restart (%s %s) repeats a step recorded completed before it",
				i, c.path, c.key)
		}
	}
	beforeKill := map[string]int{}
	for _, c := range callsAtKill {
		beforeKill[c.key]++
	}
	repeated := 0
	for k, n := range perKey {
		before := beforeKill[k]
		require.LessOrEqual(t, before, 1, "Idempotency-Key %s called %d times before the kill: the step ran twice", k, before)
		require.LessOrEqual(t, n-before, 1, "Idempotency-Key %s called %d times after the restart: the step ran twice", k, n-before)
		if n == 2 {
			repeated++
		}
	}
	require.Len(t, perKey, crashExecutions*len(crashNodes), "every step called its provider")

	t.Logf("%s: %d executions (%d answered 201 before the kill, %d submitted again after it); "+
		"killed %s after the first submission, at %d/%d provider calls, with %d executions and %d steps recorded completed; "+
		"restart: ready in %s, all %d completed %s after the restart (%s after the kill); "+
		"%d steps in flight at the kill were called a second time (same key), 0 completed steps repeated",
		st.name, crashExecutions, acceptedBeforeKill, resubmitted,
		killTime.Sub(submitted).Round(time.Millisecond), len(callsAtKill), crashExecutions*len(crashNodes),
		before.completed, len(doneKeys), ready.Round(time.Millisecond), crashExecutions,
		recovery.Round(time.Millisecond), time.Since(killTime).Round(time.Millisecond), repeated)
	if w := warnings(p1.stderr.String() + p2.stderr.String()); w != "" {
		t.Logf("%s: flowker warned: %s", st.name, w)
	}
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

type crashExec struct{ idemKey, status string }

type crashStep struct {
	number                int
	node, status, idemKey string
}

func readCrashDB(t *testing.T, st crashStore) crashDB {
	t.Helper()
	db, err := st.open()
	require.NoError(t, err)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := crashDB{byID: map[string]crashExec{}, steps: map[string][]crashStep{}}

	rows, err := db.QueryContext(ctx, `SELECT CAST(id AS TEXT), COALESCE(idempotency_key, ''), status FROM executions`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var id string
		var ex crashExec
		require.NoError(t, rows.Scan(&id, &ex.idemKey, &ex.status))
		out.byID[id] = ex
		if ex.status == "completed" {
			out.completed++
		}
	}
	require.NoError(t, rows.Err())

	srows, err := db.QueryContext(ctx, `SELECT CAST(execution_id AS TEXT), step_number, node_id, status,
		CAST(call_details AS TEXT) FROM execution_steps ORDER BY execution_id, step_number`)
	require.NoError(t, err)
	defer srows.Close()
	for srows.Next() {
		var id string
		var s crashStep
		var details sql.NullString
		require.NoError(t, srows.Scan(&id, &s.number, &s.node, &s.status, &details))
		if details.Valid {
			var d struct {
				IdempotencyKey string `json:"idempotencyKey"`
			}
			require.NoError(t, json.Unmarshal([]byte(details.String), &d), "call_details of %s step %d", id, s.number)
			s.idemKey = d.IdempotencyKey
		}
		out.steps[id] = append(out.steps[id], s)
	}
	require.NoError(t, srows.Err())
	for _, steps := range out.steps {
		sort.Slice(steps, func(i, j int) bool { return steps[i].number < steps[j].number })
	}
	return out
}
