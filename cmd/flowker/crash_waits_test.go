package main

// The crash test of waiting executions (docs/waiting.md): executions that
// wait for a callback, a timer and a four-eyes review survive kill -9 on
// the same database, and no callback, timer or decision is lost or applied
// twice. The workflow is trigger → a (a call that hands the provider the
// callback URL of w) → w (wait_for_callback) → d (delay 2s) → r (review,
// two approvals) → b (a call, on r's approve edge). Four lives per store:
//
//  1. waitsExecutions executions wait at w; the provider's callbacks are
//     delivered by several clients and the process is killed once half of
//     them were answered 202;
//  2. restarted: every callback is delivered again — 409 FLK-0525 for each
//     whose first delivery committed, 202 for the others; killed while the
//     timers of d have fired for some executions and are pending for
//     others;
//  3. restarted: the timers fire, no one sends anything for them; a handful
//     of reviews are approved by alice, and the process is killed before
//     bob approves them;
//  4. restarted: alice's approvals were kept (her second is 409 FLK-0522);
//     alice then bob approve every review, and every execution completes
//     through b, which is called once per execution (it runs only after the
//     last kill).
//
// Gated like TestCrashRecovery (FLOWKER_CRASH_TEST=1, scripts/ci-crash.sh;
// PostgreSQL with FLOWKER_TEST_DATABASE_URL); 5–20 s per store with -race.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	waitsExecutions = 120                      // executions, all waiting at once
	waitsClients    = 8                        // concurrent clients (starts, callbacks, decisions)
	waitsHandful    = 5                        // reviews approved by alice only when the third kill comes
	waitsAliceKey   = "alice-0123456789abcdef" // API_KEYS: alice and bob, two identities for four-eyes
	waitsBobKey     = "bob-0123456789abcdef00"
)

// waitsNodes are the workflow's nodes after the trigger, in step order.
var waitsNodes = []string{"a", "w", "d", "r", "b"}

// The two analysts, as their API keys' headers.
var (
	asAlice = []string{"X-API-Key", waitsAliceKey}
	asBob   = []string{"X-API-Key", waitsBobKey}
)

func TestCrashWaits(t *testing.T) { forEachCrashStore(t, crashWaitsRun) }

func crashWaitsRun(t *testing.T, st crashStore) {
	began := time.Now()
	fake := newCrashFake(t, nil) // no 503s: b is called exactly once per execution
	addr := freeAddr(t)          // every life serves the callback URLs handed out in the first
	env := append([]string{"SERVER_ADDRESS=" + addr, "PUBLIC_URL=http://" + addr, "SSRF_ALLOW_PRIVATE=true",
		"LOG_LEVEL=warn", "RATE_LIMIT_PER_MINUTE=0", "API_KEY_ENABLED=true",
		"API_KEYS=alice:" + waitsAliceKey + ",bob:" + waitsBobKey}, st.env...)
	kill := func(p *proc) []fakeCall {
		t.Helper()
		require.NoError(t, p.cmd.Process.Kill()) // SIGKILL
		return settleKill(t, p, fake)
	}
	launch := func() *proc { // a new life on the same database and address
		t.Helper()
		p := start(t, env...)
		p.waitReady()
		return p
	}
	n := waitsExecutions

	// Life 1: n executions wait at w, each callback URL recorded by the provider.
	p1 := launch()
	wf := waitsWorkflow(t, p1, fake.srv.URL)
	ids := make([]string, n)
	concurrently(n, func(i int) {
		code, _, body, err := p1.sendJSON("POST", "/v1/workflows/"+wf+"/executions",
			map[string]any{"inputData": map[string]any{"i": i}},
			"X-API-Key", waitsAliceKey, "Idempotency-Key", "waits-"+strconv.Itoa(i))
		if err != nil || code != http.StatusCreated {
			t.Errorf("starting execution %d: %d %v %v", i, code, body, err)
			return
		}
		ids[i] = fmt.Sprint(body["executionId"])
	})
	require.False(t, t.Failed(), "starting the executions failed")
	paths := make([]string, n) // callback URLs, as paths of the server
	waitFor(t, "every execution to wait at w with its callback URL at the provider", func() bool {
		urls := callbackURLs(t, fake.snapshot())
		ready := true
		for i, id := range ids {
			if paths[i] != "" {
				continue
			}
			code, _, ex, err := p1.sendJSON("GET", "/v1/executions/"+id, nil, asAlice...)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code, "%v", ex)
			if ex["status"] != "waiting" || urls[id] == "" {
				ready = false
				continue
			}
			require.InDelta(t, 1, ex["currentStepNumber"], 0, "execution %s waits after a: %v", id, ex)
			path, ok := strings.CutPrefix(urls[id], "http://"+addr+"/v1/callbacks/")
			require.True(t, ok, "callback URL %q is not under PUBLIC_URL", urls[id])
			paths[i] = "/v1/callbacks/" + path
		}
		return ready
	})
	waiting := time.Since(began)

	// Deliver the callbacks; kill once half were answered 202, while
	// several are on the wire.
	first := make([]int, n) // the first delivery's status; 0: no answer (cut by the kill) or not sent
	sent := make([]bool, n)
	var accepted, outstanding atomic.Int64
	var killed atomic.Bool
	half := make(chan struct{})
	var halfOnce sync.Once
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		concurrently(n, func(i int) {
			if killed.Load() {
				return
			}
			sent[i] = true
			outstanding.Add(1)
			code, _, body, err := p1.sendJSON("POST", paths[i], callbackPayload(i))
			outstanding.Add(-1)
			switch {
			case err != nil && killed.Load(): // the process died under it: outcome unknown
			case err != nil || code != http.StatusAccepted:
				t.Errorf("callback of execution %s: %d %v %v", ids[i], code, body, err)
			default:
				first[i] = code
				if accepted.Add(1) == int64(n/2) {
					halfOnce.Do(func() { close(half) })
				}
			}
		})
	}()
	select {
	case <-half:
	case <-delivered:
		t.Fatalf("the callbacks were delivered without reaching half of them answered 202: %d", accepted.Load())
	case <-time.After(crashDeadline):
		t.Fatalf("timed out waiting for half of the callbacks to be answered")
	}
	for outstanding.Load() < waitsClients/2 {
		select {
		case <-delivered:
			t.Fatalf("the callbacks were delivered before %d of them were on the wire at once", waitsClients/2)
		default:
			time.Sleep(50 * time.Microsecond)
		}
	}
	killed.Store(true)
	calls1 := kill(p1)
	<-delivered
	require.False(t, t.Failed(), "callbacks failed before the first kill")
	db1, w1 := readCrashDB(t, st), readWaitsDB(t, st)
	committed := make([]bool, n) // the first delivery committed: its signal is stored
	inFlight, unsent := 0, 0
	for i, id := range ids {
		committed[i] = w1.signals[id] == 1
		resolved := w1.node(id, "w").status == "resolved"
		require.Equal(t, committed[i], resolved, "execution %s: signal stored %v, but wait w %+v",
			id, committed[i], w1.node(id, "w"))
		if first[i] == http.StatusAccepted {
			require.True(t, committed[i], "execution %s: callback answered 202 before the kill but not durable", id)
		}
		switch {
		case !sent[i]:
			unsent++
		case first[i] == 0:
			inFlight++
		}
	}
	require.NotZero(t, inFlight, "no callback was in flight at the first kill")

	// Life 2: every callback again, paced (so the timers of d are due over
	// about a second); kill once some of those timers fired and others not.
	restarted2 := time.Now()
	p2 := launch()
	repeats := 0
	concurrently(n, func(i int) {
		code, _, body, err := p2.sendJSON("POST", paths[i], callbackPayload(i))
		switch {
		case err != nil:
			t.Errorf("callback of execution %s again: %v", ids[i], err)
		case committed[i] && (code != http.StatusConflict || body["code"] != "FLK-0525"):
			t.Errorf("callback of execution %s, which committed before the kill, again: %d %v (want 409 FLK-0525)",
				ids[i], code, body)
		case !committed[i] && code != http.StatusAccepted:
			t.Errorf("callback of execution %s, which did not commit before the kill: %d %v (want 202)", ids[i], code, body)
		}
		time.Sleep(60 * time.Millisecond)
	})
	require.False(t, t.Failed(), "callbacks failed after the first restart")
	for i := range committed {
		if committed[i] {
			repeats++
		}
	}
	waitFor(t, "some timers of d to fire while others are pending", func() bool {
		fired, pending := readWaitsDB(t, st).delays()
		return fired >= n/5 && pending >= n/5
	})
	calls2 := kill(p2)
	db2, w2 := readCrashDB(t, st), readWaitsDB(t, st)
	fired2, pending2 := w2.delays()
	require.NotZero(t, fired2, "no timer fired before the second kill")
	require.NotZero(t, pending2, "no timer pending at the second kill")
	for _, id := range ids {
		require.Equal(t, 1, w2.signals[id], "execution %s: one callback stored", id)
	}

	// Life 3: the pending timers fire by themselves; alice approves a
	// handful of reviews, and the process dies before bob approves them.
	restarted3 := time.Now()
	p3 := launch()
	var handful []string // review ids
	waitFor(t, strconv.Itoa(waitsHandful)+" reviews to open after the restart", func() bool {
		handful = handful[:0]
		for _, rv := range openReviews(t, p3) {
			if len(handful) < waitsHandful {
				handful = append(handful, fmt.Sprint(rv["id"]))
			}
		}
		return len(handful) == waitsHandful
	})
	approvals := 0 // decisions answered 201
	for _, id := range handful {
		code, body, err := approve(p3, id, asAlice)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, code, "%v", body)
		require.Equal(t, "open", body["status"], "one approval of two: %v", body)
		approvals++
	}
	calls3 := kill(p3)
	db3, w3 := readCrashDB(t, st), readWaitsDB(t, st)
	for _, id := range handful {
		require.Equal(t, []string{"alice:approve"}, w3.decisions[id], "review %s after the third kill", id)
	}

	// Life 4: alice's approvals were kept; bob's resolve those reviews.
	// Then alice and bob approve every review.
	restarted4 := time.Now()
	p4 := launch()
	for _, id := range handful {
		code, body, err := approve(p4, id, asAlice)
		require.NoError(t, err)
		require.Equal(t, http.StatusConflict, code, "alice approving review %s again after the restart: %v", id, body)
		require.Equal(t, "FLK-0522", body["code"], "%v", body)
		code, body, err = approve(p4, id, asBob)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, code, "bob approving review %s after the restart: %v", id, body)
		require.Equal(t, "resolved", body["status"], "%v", body)
		require.Equal(t, "approve", body["decision"], "%v", body)
		require.Len(t, body["votes"], 2, "%v", body)
		approvals++
	}
	resolved := map[string]bool{}
	var approved atomic.Int64
	waitFor(t, "every review to be approved by alice and bob", func() bool {
		open := openReviews(t, p4)
		concurrently(len(open), func(j int) {
			rv := open[j]
			voted := map[string]bool{}
			for _, v := range rv["votes"].([]any) {
				voted[fmt.Sprint(v.(map[string]any)["actor"].(map[string]any)["id"])] = true
			}
			for _, who := range []string{"alice", "bob"} {
				if voted[who] {
					continue
				}
				headers := asAlice
				if who == "bob" {
					headers = asBob
				}
				code, body, err := approve(p4, fmt.Sprint(rv["id"]), headers)
				if err != nil || code != http.StatusCreated {
					t.Errorf("approving review %v: %d %v %v", rv["id"], code, body, err)
					return
				}
				approved.Add(1)
			}
		})
		require.False(t, t.Failed(), "approvals failed")
		for _, rv := range open {
			resolved[fmt.Sprint(rv["id"])] = true
		}
		for _, id := range handful { // resolved before this loop by bob alone
			resolved[id] = true
		}
		return len(resolved) == n
	})
	approvals += int(approved.Load())
	var final crashDB
	waitFor(t, "every execution to complete", func() bool {
		final = readCrashDB(t, st)
		return final.terminal() == n
	})
	finished := time.Since(restarted4)

	// Every execution completed, each node once, no wait opened or resolved
	// twice, one callback and two decisions (alice's, bob's) each.
	wEnd := readWaitsDB(t, st)
	require.Len(t, final.byID, n)
	for _, id := range ids {
		require.Equal(t, "completed", final.byID[id].status, "execution %s", id)
		steps := final.steps[id]
		require.Len(t, steps, len(waitsNodes), "execution %s steps: %+v", id, steps)
		for j, node := range waitsNodes {
			require.Equal(t, node, steps[j].node, "execution %s step %d", id, j+1)
			require.Equal(t, "completed", steps[j].status, "execution %s node %s", id, node)
		}
		require.Equal(t, id+"/a", steps[0].idemKey)
		require.Equal(t, id+"/b", steps[4].idemKey)
		require.Equal(t, 1, wEnd.signals[id], "execution %s: callbacks stored", id)
		require.Len(t, wEnd.byExec[id], 3, "execution %s: one wait for each of w, d and r: %+v", id, wEnd.byExec[id])
		for _, node := range []string{"w", "d", "r"} {
			require.Equal(t, "resolved", wEnd.node(id, node).status, "execution %s wait %s", id, node)
		}
		review := wEnd.node(id, "r")
		require.Equal(t, "approve", review.handle)
		require.ElementsMatch(t, []string{"alice:approve", "bob:approve"}, wEnd.decisions[review.id], "review %s", review.id)
	}
	require.Equal(t, 2*n, approvals, "two approvals per review answered 201")

	// The provider: a was called once per execution (all before the first
	// kill), b once per execution (all after the last); no call repeats a
	// step recorded completed before a kill.
	calls := fake.snapshot()
	perPath := map[string]int{}
	keys := map[string]map[string]bool{"/a": {}, "/b": {}}
	doneAtKill := []map[string]bool{db1.doneKeys(), db2.doneKeys(), db3.doneKeys()}
	for _, c := range calls {
		for k, done := range doneAtKill {
			require.False(t, c.life > k+1 && done[c.key],
				"call in life %d (%s %s) repeats a step recorded completed before kill %d", c.life, c.path, c.key, k+1)
		}
		require.False(t, c.failed)
		perPath[c.path]++
		keys[c.path][c.key] = true
		if c.path == "/b" {
			require.Equal(t, 4, c.life, "b called before the last kill: %s", c.key)
		}
	}
	require.Equal(t, map[string]int{"/a": n, "/b": n}, perPath)
	require.Len(t, keys["/a"], n)
	require.Len(t, keys["/b"], n)
	require.Len(t, calls1, n, "every a was called before the first kill")
	require.Len(t, calls2, n, "nothing was called in the second life")
	require.Len(t, calls3, n, "nothing was called in the third life")

	// The audit chain is whole, with one event per wait opened, callback
	// accepted, timer fired and decision answered 201.
	events := auditCounts(t, p4)
	require.Equal(t, 3*n, events["WAIT_OPENED"], "one WAIT_OPENED per wait")
	require.Equal(t, 2*n, events["REVIEW_DECISION"], "one REVIEW_DECISION per approval answered 201")
	require.Equal(t, n, events["SIGNAL_RECEIVED"], "one SIGNAL_RECEIVED per callback")
	require.Equal(t, n, events["WAIT_FIRED"], "one WAIT_FIRED per timer")

	t.Logf("%s: %d executions waiting at w after %s; kill 1 with %d callbacks answered 202, %d in flight, %d not sent "+
		"(%d committed); restart 2 after %s: %d answered 409 FLK-0525, %d 202; kill 2 with %d timers fired, %d pending; "+
		"restart 3 after %s, %d reviews approved by alice, kill 3; restart 4 after %s: alice's approvals kept, "+
		"%d approvals in all, every execution completed %s after the last restart; %s in all",
		st.name, n, waiting.Round(time.Millisecond), accepted.Load(), inFlight, unsent, repeats,
		restarted2.Sub(began).Round(time.Millisecond), repeats, n-repeats, fired2, pending2,
		restarted3.Sub(began).Round(time.Millisecond), len(handful), restarted4.Sub(began).Round(time.Millisecond),
		approvals, finished.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	if w := warnings(p1.stderr.String() + p2.stderr.String() + p3.stderr.String() + p4.stderr.String()); w != "" {
		t.Logf("%s: flowker warned: %s", st.name, w)
	}
}

// concurrently calls fn(0) … fn(n-1) from waitsClients goroutines and
// returns once all returned.
func concurrently(n int, fn func(i int)) {
	next := make(chan int)
	var clients sync.WaitGroup
	for range waitsClients {
		clients.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	clients.Wait()
}

func callbackPayload(i int) map[string]any { return map[string]any{"verdict": "clear", "i": i} }

// approve posts an approval of a review with an analyst's headers (asAlice, asBob).
func approve(p *proc, review string, analyst []string) (int, map[string]any, error) {
	code, _, body, err := p.sendJSON("POST", "/v1/reviews/"+review+"/decisions",
		map[string]any{"decision": "approve"}, analyst...)
	return code, body, err
}

// waitsWorkflow creates the provider configuration and the active workflow
// trigger → a → w → d → r → b (on approve); it returns the workflow id.
func waitsWorkflow(t *testing.T, p *proc, fakeURL string) string {
	t.Helper()
	code, _, pc, err := p.sendJSON("POST", "/v1/provider-configurations", map[string]any{"name": "waits-fake",
		"providerId": "http", "config": map[string]any{"base_url": fakeURL}}, asAlice...)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, code, "provider configuration: %v", pc)
	call := func(path string, mapping ...string) map[string]any {
		var m []any
		for i := 0; i+1 < len(mapping); i += 2 {
			m = append(m, map[string]any{"source": mapping[i], "target": mapping[i+1]})
		}
		return map[string]any{"executorId": "http.request", "providerConfigId": pc["id"], "method": "POST", "path": path,
			"inputMapping": m}
	}
	nodes := []map[string]any{
		{"id": "t", "type": "trigger"},
		{"id": "a", "type": "executor", "data": call("/a", "execution.callbacks.w", "callbackUrl", "execution.id", "executionId")},
		{"id": "w", "type": "wait_for_callback"},
		{"id": "d", "type": "delay", "data": map[string]any{"duration": "2s"}},
		{"id": "r", "type": "review", "data": map[string]any{"title": "Approve the payment",
			"decisions": []any{"approve", "reject"}, "requiredApprovals": 2,
			"context": []any{map[string]any{"source": "w.verdict", "target": "verdict"}}}},
		{"id": "b", "type": "executor", "data": call("/b", "w.i", "i")},
	}
	edges := []map[string]any{{"id": "t-a", "source": "t", "target": "a"}, {"id": "a-w", "source": "a", "target": "w"},
		{"id": "w-d", "source": "w", "target": "d"}, {"id": "d-r", "source": "d", "target": "r"},
		{"id": "r-b", "source": "r", "target": "b", "sourceHandle": "approve"}}
	code, _, wf, err := p.sendJSON("POST", "/v1/workflows",
		map[string]any{"name": "waits", "nodes": nodes, "edges": edges}, asAlice...)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, code, "workflow: %v", wf)
	id := fmt.Sprint(wf["workflowId"])
	code, _, body, err := p.sendJSON("POST", "/v1/workflows/"+id+"/activate", nil, asAlice...)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "activate: %v", body)
	return id
}

// callbackURLs returns the callback URL each execution's a call sent, by
// execution id.
func callbackURLs(t *testing.T, calls []fakeCall) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range calls {
		if c.path != "/a" {
			continue
		}
		var body struct{ CallbackURL, ExecutionID string }
		require.NoError(t, json.Unmarshal(c.body, &body), "body of %s: %s", c.key, c.body)
		require.Equal(t, body.ExecutionID+"/a", c.key)
		out[body.ExecutionID] = body.CallbackURL
	}
	return out
}

// openReviews lists every open review (as alice), oldest first, in pages of
// 50 (so that paging is used: up to waitsExecutions are open at once).
func openReviews(t *testing.T, p *proc) []map[string]any {
	t.Helper()
	var out []map[string]any
	cursor := ""
	for {
		code, _, page, err := p.sendJSON("GET", "/v1/reviews?status=open&limit=50&sortOrder=ASC&cursor="+url.QueryEscape(cursor),
			nil, asAlice...)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, "%v", page)
		for _, it := range page["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		if page["hasMore"] != true {
			return out
		}
		cursor = fmt.Sprint(page["nextCursor"])
	}
}

// auditCounts verifies the audit chain up to its newest event and counts
// the events by type.
func auditCounts(t *testing.T, p *proc) map[string]int {
	t.Helper()
	counts := map[string]int{}
	newest, cursor := "", ""
	for {
		code, _, page, err := p.sendJSON("GET", "/v1/audit-events?limit=100&cursor="+url.QueryEscape(cursor), nil, asAlice...)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, "%v", page)
		for _, it := range page["items"].([]any) {
			e := it.(map[string]any)
			if newest == "" {
				newest = fmt.Sprint(e["eventId"])
			}
			counts[fmt.Sprint(e["eventType"])]++
		}
		if page["hasMore"] != true {
			break
		}
		cursor = fmt.Sprint(page["nextCursor"])
	}
	code, _, v, err := p.sendJSON("GET", "/v1/audit-events/"+newest+"/verify", nil, asAlice...)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "%v", v)
	require.Equal(t, true, v["isValid"], "%v", v)
	total := 0
	for _, c := range counts {
		total += c
	}
	require.InDelta(t, total, v["totalChecked"], 0, "verify checked every event: %v", v)
	return counts
}

// waitsDB is the waits, signals and decisions as the database holds them.
type waitsDB struct {
	byExec    map[string][]dbWait // by execution id, oldest first
	signals   map[string]int      // signals stored per execution
	decisions map[string][]string // "actor:decision" per review (wait) id
}

type dbWait struct{ id, node, status, handle string }

// node returns the newest wait of an execution at node.
func (d waitsDB) node(execID, node string) dbWait {
	var out dbWait
	for _, w := range d.byExec[execID] {
		if w.node == node {
			out = w
		}
	}
	return out
}

// delays counts the waits of d that fired and those still pending.
func (d waitsDB) delays() (fired, pending int) {
	for _, ws := range d.byExec {
		for _, w := range ws {
			switch {
			case w.node != "d":
			case w.status == "resolved":
				fired++
			case w.status == "open":
				pending++
			}
		}
	}
	return fired, pending
}

func readWaitsDB(t *testing.T, st crashStore) waitsDB {
	t.Helper()
	db, err := st.open()
	require.NoError(t, err)
	defer db.Close()
	out := waitsDB{byExec: map[string][]dbWait{}, signals: map[string]int{}, decisions: map[string][]string{}}
	crashRows(t, db, `SELECT CAST(execution_id AS TEXT), CAST(id AS TEXT), node_id, status, handle
		FROM execution_waits ORDER BY created_at, id`, func(rows *sql.Rows) {
		var execID string
		var w dbWait
		require.NoError(t, rows.Scan(&execID, &w.id, &w.node, &w.status, &w.handle))
		out.byExec[execID] = append(out.byExec[execID], w)
	})
	crashRows(t, db, `SELECT CAST(execution_id AS TEXT) FROM execution_signals`, func(rows *sql.Rows) {
		var execID string
		require.NoError(t, rows.Scan(&execID))
		out.signals[execID]++
	})
	crashRows(t, db, `SELECT CAST(wait_id AS TEXT), actor_id, decision FROM review_decisions`, func(rows *sql.Rows) {
		var waitID, actor, decision string
		require.NoError(t, rows.Scan(&waitID, &actor, &decision))
		out.decisions[waitID] = append(out.decisions[waitID], actor+":"+decision)
	})
	return out
}
