package httpapi_test

// The execution API: idempotent starts, cancel, retry, synchronous mode,
// results while running, list and get, and back-pressure.

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/engine"
	"flowker/internal/provider/providertest"
)

// twoSteps is trigger → a → b on e's fake.
func (e *flowEnv) twoSteps() string {
	e.t.Helper()
	return e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), e.callNode("b", "/b")},
		[]map[string]any{edge("t", "a"), edge("a", "b")})
}

func executionsPath(wf string) string { return "/v1/workflows/" + wf + "/executions" }

func TestStartIdempotency(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	wf, other := e.twoSteps(), e.twoSteps()
	body := map[string]any{"inputData": map[string]any{"amount": 10, "currency": "BRL"}}
	key := uuid.NewString()

	// Missing key.
	e.expect(e.do("POST", executionsPath(wf), body), http.StatusBadRequest, "FLK-0509")

	// A replay of a running execution: 201, the same id, marked replayed.
	release := e.hold("/a")
	first := e.do("POST", executionsPath(wf), body, "Idempotency-Key", key)
	created := e.expect(first, http.StatusCreated, "")
	id := created["executionId"].(string)
	require.Empty(t, first.header.Get("Idempotent-Replayed"))
	require.Equal(t, "/v1/executions/"+id, first.header.Get("Location"))
	r := e.do("POST", executionsPath(wf), body, "Idempotency-Key", key)
	require.Equal(t, id, e.expect(r, http.StatusCreated, "")["executionId"])
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	release()
	e.await(id, "completed")

	// A replay of a finished one: 200. The same key with keys in another
	// order is the same body.
	reordered := `{"inputData":{"currency":"BRL","amount":10}}`
	r = e.do("POST", executionsPath(wf), reordered, "Idempotency-Key", key)
	require.Equal(t, id, e.expect(r, http.StatusOK, "")["executionId"])
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	require.Equal(t, "completed", e.expect(r, http.StatusOK, "")["status"])

	// The same key with another body is refused.
	e.expect(e.do("POST", executionsPath(wf), map[string]any{"inputData": map[string]any{"amount": 11}},
		"Idempotency-Key", key), http.StatusUnprocessableEntity, "FLK-0510")

	// Keys are scoped per workflow: another workflow starts its own.
	r = e.do("POST", executionsPath(other)+"?wait=5s", body, "Idempotency-Key", key)
	res := e.expect(r, http.StatusOK, "")
	require.NotEqual(t, id, res["executionId"])
	require.Empty(t, r.header.Get("Idempotent-Replayed"))
	require.Len(t, e.fake.RequestsTo("/a"), 2, "one call per execution; replays call nothing")
}

// TestStartIdempotencyConcurrent: ten identical requests at once make one
// execution.
func TestStartIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	wf := e.twoSteps()
	key := uuid.NewString()
	const n = 10
	type answer struct {
		status   int
		id       string
		replayed bool
		err      error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			status, header, body, err := rawPost(e.base, executionsPath(wf),
				map[string]any{"inputData": map[string]any{"n": 1}}, "Idempotency-Key", key)
			answers[i] = answer{status: status, err: err}
			if err == nil {
				answers[i].id, _ = body["executionId"].(string)
				answers[i].replayed = header.Get("Idempotent-Replayed") == "true"
			}
		})
	}
	close(start)
	wg.Wait()
	fresh := 0
	for _, a := range answers {
		require.NoError(t, a.err)
		require.Contains(t, []int{http.StatusOK, http.StatusCreated}, a.status)
		require.Equal(t, answers[0].id, a.id, "every request gets the same execution")
		if !a.replayed {
			fresh++
		}
	}
	require.Equal(t, 1, fresh, "exactly one request created it")
	e.await(answers[0].id, "completed")
	list := e.expect(e.do("GET", "/v1/executions?workflowId="+wf, nil), http.StatusOK, "")
	require.Len(t, items(t, list), 1)
	require.Len(t, e.fake.RequestsTo("/a"), 1)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	e.hold("/a") // never released: the cancellation must end the call
	wf := e.twoSteps()
	id := e.startAsync(wf, nil)
	e.waitCalls("/a", 1)

	got := e.expect(e.do("POST", "/v1/executions/"+id+"/cancel", nil), http.StatusOK, "")
	require.Equal(t, id, got["executionId"])
	require.Equal(t, true, got["cancelRequested"])
	res := e.await(id, "cancelled")
	require.Empty(t, e.fake.RequestsTo("/b"), "nothing runs after a cancel")
	require.Empty(t, stepsOf(t, res, "b"))

	// Finished executions cannot be cancelled; unknown ones are not found.
	e.expect(e.do("POST", "/v1/executions/"+id+"/cancel", nil), http.StatusUnprocessableEntity, "FLK-0513")
	quick := e.activate([]map[string]any{triggerNode("t"), e.callNode("c", "/c")}, []map[string]any{edge("t", "c")})
	done := e.run(quick, nil)["executionId"].(string)
	e.expect(e.do("POST", "/v1/executions/"+done+"/cancel", nil), http.StatusUnprocessableEntity, "FLK-0513")
	e.expect(e.do("POST", "/v1/executions/"+uuid.NewString()+"/cancel", nil), http.StatusNotFound, "FLK-0500")
	e.expect(e.do("POST", "/v1/executions/nope/cancel", nil), http.StatusBadRequest, "")
}

// TestCancelQueued: an execution cancelled while it waits for a worker never
// calls anything.
func TestCancelQueued(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, func(o *engine.Options) { o.Concurrency = 1 })
	release := e.hold("/a")
	wf := e.twoSteps()
	running := e.startAsync(wf, nil)
	e.waitCalls("/a", 1)
	queued := e.startAsync(wf, nil)
	e.expect(e.do("POST", "/v1/executions/"+queued+"/cancel", nil), http.StatusOK, "")
	release()
	e.await(running, "completed")
	res := e.await(queued, "cancelled")
	require.Empty(t, steps(t, res), "a queued execution that was cancelled runs no step")
	require.Len(t, e.fake.RequestsTo("/a"), 1, "only the running execution called the provider")
}

// TestRetryFromFailedStep: the completed step is not run again; the failed
// step is kept as history and runs with a new Idempotency-Key.
func TestRetryFromFailedStep(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	e.fake.Respond("/b", providertest.Response{Status: http.StatusBadRequest, Body: `{"error":"bad"}`})
	wf := e.twoSteps()
	res := e.run(wf, nil)
	require.Equal(t, "failed", res["status"], "%v", res)
	id := res["executionId"].(string)

	e.fake.Respond("/b", okJSON(map[string]any{"ok": true}))
	got := e.expect(e.do("POST", "/v1/executions/"+id+"/retry", nil), http.StatusAccepted, "")
	require.Equal(t, id, got["executionId"])
	res = e.await(id, "completed")
	require.Empty(t, res["errorMessage"])
	require.Len(t, e.fake.RequestsTo("/a"), 1, "a is not called again on retry")
	require.Len(t, stepsOf(t, res, "a"), 1)
	b := stepsOf(t, res, "b")
	require.Len(t, b, 2, "the failed step stays as history")
	require.Equal(t, "failed", b[0]["status"])
	require.Equal(t, "completed", b[1]["status"])
	require.Greater(t, num(t, b[1]["stepNumber"]), num(t, b[0]["stepNumber"]))
	calls := e.fake.RequestsTo("/b")
	require.Len(t, calls, 2)
	require.NotEqual(t, calls[0].Header.Get("Idempotency-Key"), calls[1].Header.Get("Idempotency-Key"),
		"a deliberate retry is a new request to the provider")
	require.NotEmpty(t, res["finalOutput"].(map[string]any)["b"])

	// Only failed or cancelled executions can be retried.
	e.expect(e.do("POST", "/v1/executions/"+id+"/retry", nil), http.StatusUnprocessableEntity, "FLK-0512")
	e.expect(e.do("POST", "/v1/executions/"+uuid.NewString()+"/retry", nil), http.StatusNotFound, "FLK-0500")
}

func TestSyncMode(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	wf := e.twoSteps()

	// Finished in time: 200 with the results.
	r := e.start(wf, "?wait=5s", nil)
	res := e.expect(r, http.StatusOK, "")
	require.Equal(t, "completed", res["status"])
	require.Len(t, steps(t, res), 2)
	require.NotEmpty(t, r.header.Get("Location"))

	// Not finished in time: 202 with the id; it goes on.
	release := e.hold("/b")
	r = e.start(wf, "", nil, "Prefer", "wait=1")
	acc := e.expect(r, http.StatusAccepted, "")
	id, _ := acc["executionId"].(string)
	require.NotEmpty(t, id)
	require.Equal(t, "running", acc["status"])
	require.Equal(t, "/v1/executions/"+id, r.header.Get("Location"))
	release()
	e.await(id, "completed")

	// Bad waits.
	for _, q := range []string{"?wait=soon", "?wait=-1s", "?wait=31s", "?wait=-2"} {
		e.expect(e.start(wf, q, nil), http.StatusBadRequest, "FLK-0304")
	}
	e.expect(e.start(wf, "", nil, "Prefer", "wait=forever"), http.StatusBadRequest, "FLK-0304")
}

// TestResultsWhileRunning: completed steps are visible while a later one
// is in flight.
func TestResultsWhileRunning(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	release := e.hold("/b")
	wf := e.twoSteps()
	id := e.startAsync(wf, nil)
	e.waitCalls("/b", 1)

	res := e.expect(e.do("GET", "/v1/executions/"+id+"/results", nil), http.StatusOK, "")
	require.Equal(t, "running", res["status"])
	all := steps(t, res)
	require.Len(t, all, 1, "%v", res)
	require.Equal(t, "a", all[0]["nodeId"])
	require.Equal(t, "completed", all[0]["status"])
	got := e.expect(e.do("GET", "/v1/executions/"+id, nil), http.StatusOK, "")
	require.Equal(t, "running", got["status"])
	require.Equal(t, 1, num(t, got["currentStepNumber"]))
	require.Equal(t, 2, num(t, got["totalSteps"]))

	release()
	require.Len(t, steps(t, e.await(id, "completed")), 2)
	e.expect(e.do("GET", "/v1/executions/"+uuid.NewString()+"/results", nil), http.StatusNotFound, "FLK-0500")
}

func TestListAndGetExecutions(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	wf := e.twoSteps()
	e.fake.Respond("/x", providertest.Response{Status: http.StatusBadRequest})
	failing := e.activate([]map[string]any{triggerNode("t"), e.callNode("x", "/x")}, []map[string]any{edge("t", "x")})
	var ids []string
	for range 3 {
		ids = append(ids, e.run(wf, nil)["executionId"].(string))
	}
	failed := e.run(failing, nil)["executionId"].(string)

	got := e.expect(e.do("GET", "/v1/executions/"+ids[0], nil), http.StatusOK, "")
	require.Equal(t, wf, got["workflowId"])
	require.Equal(t, "completed", got["status"])
	require.EqualValues(t, 2, got["workflowRevision"])
	e.expect(e.do("GET", "/v1/executions/"+uuid.NewString(), nil), http.StatusNotFound, "FLK-0500")
	e.expect(e.do("GET", "/v1/executions/not-a-uuid", nil), http.StatusBadRequest, "")

	list := e.expect(e.do("GET", "/v1/executions?workflowId="+wf, nil), http.StatusOK, "")
	require.ElementsMatch(t, ids, executionIDs(items(t, list)))
	list = e.expect(e.do("GET", "/v1/executions?status=failed", nil), http.StatusOK, "")
	require.Equal(t, []string{failed}, executionIDs(items(t, list)))
	list = e.expect(e.do("GET", "/v1/executions?status=completed&workflowId="+failing, nil), http.StatusOK, "")
	require.Empty(t, items(t, list))

	// Cursor paging, newest first, no item twice.
	var seen []string
	path := "/v1/executions?limit=2&workflowId=" + wf
	for page := 0; ; page++ {
		require.Less(t, page, 3)
		list = e.expect(e.do("GET", path, nil), http.StatusOK, "")
		seen = append(seen, executionIDs(items(t, list))...)
		if list["hasMore"] != true {
			break
		}
		cursor, _ := list["nextCursor"].(string)
		require.NotEmpty(t, cursor)
		path = "/v1/executions?limit=2&workflowId=" + wf + "&cursor=" + cursor
	}
	require.Equal(t, []string{ids[2], ids[1], ids[0]}, seen)

	// startedFrom/startedTo: inclusive bounds, any offset, kept across pages.
	started := func(id string) time.Time {
		got := e.expect(e.do("GET", "/v1/executions/"+id, nil), http.StatusOK, "")
		at, err := time.Parse(time.RFC3339Nano, got["startedAt"].(string))
		require.NoError(t, err)
		return at
	}
	east := time.FixedZone("", 2*3600)
	window := "&startedFrom=" + url.QueryEscape(started(ids[1]).In(east).Format(time.RFC3339Nano)) +
		"&startedTo=" + url.QueryEscape(started(ids[2]).Format(time.RFC3339Nano))
	seen = nil
	path = "/v1/executions?limit=1&workflowId=" + wf + window
	for page := 0; ; page++ {
		require.Less(t, page, 3)
		list = e.expect(e.do("GET", path, nil), http.StatusOK, "")
		seen = append(seen, executionIDs(items(t, list))...)
		if list["hasMore"] != true {
			break
		}
		path = "/v1/executions?limit=1&workflowId=" + wf + window + "&cursor=" + list["nextCursor"].(string)
	}
	require.Equal(t, []string{ids[2], ids[1]}, seen)
	list = e.expect(e.do("GET", "/v1/executions?sortOrder=ASC&startedTo="+
		url.QueryEscape(started(ids[0]).Format(time.RFC3339Nano)), nil), http.StatusOK, "")
	require.Equal(t, []string{ids[0]}, executionIDs(items(t, list)))
	list = e.expect(e.do("GET", "/v1/executions?startedFrom=2999-01-01T00:00:00Z", nil), http.StatusOK, "")
	require.Empty(t, items(t, list))
	e.expect(e.do("GET", "/v1/executions?startedFrom=yesterday", nil), http.StatusBadRequest, "FLK-0305")
	e.expect(e.do("GET", "/v1/executions?startedTo=2026-01-01", nil), http.StatusBadRequest, "FLK-0305")
	e.expect(e.do("GET", "/v1/executions?startedFrom=2026-02-01T00:00:00Z&startedTo=2026-01-01T00:00:00Z", nil),
		http.StatusBadRequest, "FLK-0308")

	for _, q := range []string{"limit=0", "limit=101", "limit=abc"} {
		e.expect(e.do("GET", "/v1/executions?"+q, nil), http.StatusBadRequest, "FLK-0304")
	}
	e.expect(e.do("GET", "/v1/executions?status=done", nil), http.StatusBadRequest, "FLK-0304")
	e.expect(e.do("GET", "/v1/executions?workflowId=nope", nil), http.StatusBadRequest, "")
	e.expect(e.do("GET", "/v1/executions?cursor=garbage", nil), http.StatusBadRequest, "")
}

func executionIDs(list []map[string]any) []string {
	out := make([]string, len(list))
	for i, m := range list {
		out[i], _ = m["executionId"].(string)
	}
	return out
}

// TestBackPressure: with one worker and a queue of one, the third start is
// refused with 503 and Retry-After rather than accepted; what was accepted
// completes.
func TestBackPressure(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, func(o *engine.Options) { o.Concurrency, o.QueueSize = 1, 1 })
	release := e.hold("/a")
	wf := e.twoSteps()
	first := e.startAsync(wf, nil)
	e.waitCalls("/a", 1)
	second := e.startAsync(wf, nil)

	key := uuid.NewString()
	r := e.do("POST", executionsPath(wf), map[string]any{"inputData": map[string]any{}}, "Idempotency-Key", key)
	e.expect(r, http.StatusServiceUnavailable, "FLK-0511")
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After: %q", r.header.Get("Retry-After"))
	require.Positive(t, secs)
	e.expect(e.do("POST", "/v1/executions/"+first+"/retry", nil), http.StatusServiceUnavailable, "FLK-0511")

	release()
	e.await(first, "completed")
	e.await(second, "completed")
	list := e.expect(e.do("GET", "/v1/executions?workflowId="+wf, nil), http.StatusOK, "")
	require.Len(t, items(t, list), 2, "the refused start left nothing behind")
	// The refused key was not used up: the client's retry is accepted.
	r = e.do("POST", executionsPath(wf)+"?wait=5s", map[string]any{"inputData": map[string]any{}}, "Idempotency-Key", key)
	require.Equal(t, "completed", e.expect(r, http.StatusOK, "")["status"])
	require.Len(t, e.fake.RequestsTo("/a"), 3)
}
