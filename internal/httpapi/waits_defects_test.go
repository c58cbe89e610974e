package httpapi_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
)

// Waiting executions at the API's seams: retries after a cancel or a
// failure, a decision racing a cancel, and hostile input.

// A retry of a cancelled execution that waited at a review waits afresh:
// a new task (the old one stays cancelled and refuses decisions), which
// then leads on once.
func TestRetryAfterCancelOpensAFreshReview(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, []string{"alice"}, "")
	wf := e.activate(e.reviewFlow(nil))
	id := e.startAsync(wf, nil)
	old := e.openReview(id)["id"].(string)
	e.awaitStatus(id, "waiting")
	e.expect(e.do("POST", "/v1/executions/"+id+"/cancel", nil), http.StatusOK, "")
	// Ended by the request, with no run: its end is in the audit trail as a
	// run's is (found by a defect hunt: only the request was).
	ended := e.expect(e.do("GET", "/v1/audit-events?resourceId="+id+"&eventType=EXECUTION_CANCELLED", nil), http.StatusOK, "")
	require.Len(t, ended["items"], 1)

	e.expect(e.do("POST", "/v1/executions/"+id+"/retry", nil), http.StatusAccepted, "")
	fresh := e.openReview(id)["id"].(string)
	require.NotEqual(t, old, fresh)
	e.awaitStatus(id, "waiting")
	e.expect(e.as("alice").decide(old, "approve"), http.StatusConflict, "FLK-0521")
	e.expect(e.as("alice").decide(fresh, "approve"), http.StatusCreated, "")
	res := e.await(id, "completed")
	require.Len(t, stepsOf(t, res, "review"), 1)
	require.Len(t, e.waitCalls("/pay", 1), 1)
	require.Equal(t, "cancelled", e.expect(e.do("GET", "/v1/reviews/"+old, nil), http.StatusOK, "")["status"])
}

// A retry of an execution that failed after its callback arrived keeps
// the callback: the node does not wait again, and a repeat is 409.
func TestRetryAfterCallbackThenFailure(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, nil, "")
	nodes, edges := e.callbackFlow(nil)
	nodes = append(nodes, e.callNode("book", "/book"))
	edges = append(edges, edge("wait", "book"))
	e.fake.Respond("/book", providertest.Response{Status: http.StatusBadRequest, Body: `{"error":"closed"}`})
	id := e.startAsync(e.activate(nodes, edges), nil)
	path := callbackPath(t, e.waitCalls("/kyc", 1)[0], "callbackUrl")
	e.awaitStatus(id, "waiting")
	e.expect(e.callBack(path, map[string]any{"verdict": "clear"}), http.StatusAccepted, "")
	e.await(id, "failed")

	e.fake.Respond("/book", okJSON(map[string]any{"booked": true}))
	e.expect(e.do("POST", "/v1/executions/"+id+"/retry", nil), http.StatusAccepted, "")
	res := e.await(id, "completed")
	require.Len(t, stepsOf(t, res, "wait"), 1, "the callback's step is kept")
	require.Equal(t, map[string]any{"verdict": "clear"}, step(t, res, "wait")["output"])
	require.Len(t, e.fake.RequestsTo("/kyc"), 1)
	e.expect(e.callBack(path, map[string]any{}), http.StatusConflict, "FLK-0525")
}

// A decision and a cancel at once: whichever takes the row first wins,
// and the answers agree with what was stored — no review left open, no
// decision recorded on a cancelled review, the call after it at most once.
func TestDecisionRacesCancel(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, []string{"alice"}, "")
	wf := e.activate(e.reviewFlow(nil))
	const n = 8
	ids, reviews := make([]string, n), make([]string, n)
	for i := range ids {
		ids[i] = e.startAsync(wf, nil)
	}
	for i, id := range ids {
		reviews[i] = e.openReview(id)["id"].(string)
		e.awaitStatus(id, "waiting")
	}
	decided := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			<-start
			decided[i], _, _, _ = rawPost(e.base, "/v1/reviews/"+reviews[i]+"/decisions",
				map[string]any{"decision": "approve"}, "X-API-Key", keyOf("alice"))
		})
		wg.Go(func() {
			<-start
			_, _, _, _ = rawPost(e.base, "/v1/executions/"+ids[i]+"/cancel", nil, "X-API-Key", keyOf("ops"))
		})
	}
	close(start)
	wg.Wait()
	for i, id := range ids {
		res := e.await(id, e.statusWhenDone(id))
		rev := e.expect(e.do("GET", "/v1/reviews/"+reviews[i], nil), http.StatusOK, "")
		switch decided[i] {
		case http.StatusCreated:
			require.Equal(t, "resolved", rev["status"])
		case http.StatusConflict:
			require.Equal(t, "cancelled", rev["status"])
			require.Empty(t, rev["votes"])
			require.Equal(t, "cancelled", res["status"])
		default:
			t.Fatalf("decision answered %d", decided[i])
		}
	}
	calls := map[string]int{}
	for _, r := range e.fake.RequestsTo("/pay") {
		calls[string(r.Body)]++
	}
	for body, c := range calls {
		require.Equal(t, 1, c, body)
	}
	require.Empty(t, e.expect(e.do("GET", "/v1/reviews?status=open&workflowId="+wf, nil), http.StatusOK, "")["items"])
}

// statusWhenDone polls until the execution is terminal and returns its status.
func (h *harness) statusWhenDone(id string) string {
	h.t.Helper()
	var s string
	eventually(h.t, "execution "+id+" to finish", func() bool {
		s = h.status(id)
		return flow.ExecutionStatus(s).Terminal()
	})
	return s
}

// Callback tokens that are not ones: every malformation is the same 404,
// a URL too long for the server a clean 4xx; nothing is delivered.
func TestCallbackTokenHostile(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, nil, "")
	id, path := e.waitingForCallback()
	token := strings.TrimPrefix(path, "/v1/callbacks/")
	raw, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	for name, bad := range map[string]string{
		"short":     base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]),
		"long":      base64.RawURLEncoding.EncodeToString(append(raw, 0)),
		"padded":    token + "==",
		"std":       strings.NewReplacer("-", "+", "_", "/").Replace(token) + "+/",
		"escaped":   url.PathEscape(token[:10] + "%00" + token[10:]),
		"non-ascii": token[:20] + "é" + token[21:],
		"big":       strings.Repeat(token, 60),
	} {
		r := e.callBack("/v1/callbacks/"+bad, map[string]any{"x": name})
		require.Equal(t, http.StatusNotFound, r.status, "%s: %s", name, r.body)
	}
	r := e.callBack("/v1/callbacks/"+strings.Repeat("A", 64<<10), map[string]any{})
	require.True(t, r.status >= 400 && r.status < 500, "a huge token: %d", r.status)
	require.Equal(t, "waiting", e.status(id), "nothing was delivered")
}

// Payloads and comments no database stores alike are refused with 400
// before anything is recorded; a deep payload is stored or refused, never
// a 5xx.
func TestWaitBodiesHostile(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, []string{"alice"}, "")
	id, path := e.waitingForCallback()
	for _, body := range []string{`{"a":"x\u0000y"}`, `{"k\u0000":1}`, "{\"a\":\"caf\xe9\"}", `["\u0000"]`} {
		e.expect(e.callBack(path, body), http.StatusBadRequest, "FLK-0001")
		e.expect(e.do("POST", "/v1/executions/"+id+"/signals/wait", body), http.StatusBadRequest, "FLK-0001")
	}
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	r := e.callBack(path, deep)
	require.True(t, r.status == http.StatusBadRequest, "too deep: %d %s", r.status, r.body)
	require.Equal(t, "waiting", e.status(id))
	e.expect(e.callBack(path, map[string]any{"ok": true}), http.StatusAccepted, "")
	e.await(id, "completed")

	wf := e.activate(e.reviewFlow(nil))
	rid := e.openReview(e.startAsync(wf, nil))["id"].(string)
	for _, body := range []string{`{"decision":"approve","comment":"a\u0000b"}`,
		"{\"decision\":\"approve\",\"comment\":\"caf\xe9\"}", `{"decision":"appro\u0000ve"}`} {
		e.expect(e.as("alice").do("POST", "/v1/reviews/"+rid+"/decisions", body), http.StatusBadRequest, "FLK-0001")
	}
	rev := e.expect(e.do("GET", "/v1/reviews/"+rid, nil), http.StatusOK, "")
	require.Equal(t, "open", rev["status"])
	require.Empty(t, rev["votes"], "nothing refused was recorded")
}

// Signal names no node has — odd characters, long, encoded — are 404
// FLK-0527, also once the execution has finished (not "too late").
func TestSignalNamesHostile(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, nil, "")
	id, path := e.waitingForCallback()
	names := []string{"nope", "wait%00", "%C3%A9t%C3%A9", "..", "a%2Fb", strings.Repeat("w", 2000), "wait%20"}
	for _, name := range names {
		e.expect(e.do("POST", "/v1/executions/"+id+"/signals/"+name, map[string]any{}), http.StatusNotFound, "FLK-0527")
	}
	e.expect(e.callBack(path, nil), http.StatusAccepted, "")
	e.await(id, "completed")
	for _, name := range names {
		e.expect(e.do("POST", "/v1/executions/"+id+"/signals/"+name, map[string]any{}), http.StatusNotFound, "FLK-0527")
	}
	e.expect(e.do("POST", "/v1/executions/"+id+"/signals/wait", map[string]any{}), http.StatusConflict, "FLK-0525")
}

// Forged /v1/reviews cursors are 400 INVALID_CURSOR, never a 5xx.
func TestReviewCursorsHostile(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, nil, "")
	wf := e.activate(e.reviewFlow(nil))
	e.openReview(e.startAsync(wf, nil))
	enc := func(c string) string { return url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(c))) }
	id := uuid.NewString()
	for _, c := range []string{
		enc(`{"id":"` + id + `","sv":"yesterday","sb":"createdAt","so":"ASC"}`),
		enc(`{"id":"` + id + `","sv":"2026-01-01T00:00:00Z\u0000","sb":"createdAt","so":"ASC"}`),
		enc(`{"id":"x' OR 1=1 --","sv":"2026-01-01T00:00:00Z","sb":"createdAt","so":"DESC"}`),
		enc(`{"id":"` + id + `","sv":"2026-01-01T00:00:00Z","sb":"startedAt","so":"DESC"}`),
		enc(`{"id":"` + id + `","sv":"2026-01-01T00:00:00Z","sb":"created_at","so":"DESC"}`),
		enc(`{"id":"` + id + `","sv":"2026-01-01T00:00:00Z","sb":"createdAt","so":"DESC; DROP"}`),
		enc(strings.Repeat("[", 2000)), url.QueryEscape("%%%"),
	} {
		r := e.do("GET", "/v1/reviews?cursor="+c, nil)
		require.Equal(t, http.StatusBadRequest, r.status, "%.80s: %s", c, r.body)
	}
	r := e.do("GET", "/v1/reviews?cursor="+enc(strings.Repeat("[", 10000)), nil)
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, r.status, "a huge cursor: %s", r.body)
	ok := enc(`{"id":"` + id + `","sv":"2999-01-01T00:00:00Z","sb":"createdAt","so":"DESC"}`)
	require.Len(t, e.expect(e.do("GET", "/v1/reviews?cursor="+ok, nil), http.StatusOK, "")["items"], 1,
		"a well-formed cursor from the future pages from the newest")
}
