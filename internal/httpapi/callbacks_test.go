package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// Callbacks and signals end to end: a wait_for_callback node's URL is
// handed to a provider by an executor node's mapping, and what is posted
// to it becomes the node's output.

// callbackFlow is trigger → kyc (a call to /kyc sending its callback URL
// and the execution id) → wait (wait_for_callback, data) → done.
func (e *flowEnv) callbackFlow(data map[string]any) ([]map[string]any, []map[string]any) {
	return []map[string]any{triggerNode("start"),
			e.callNode("kyc", "/kyc", map[string]any{"inputMapping": []map[string]any{
				{"source": "execution.callbacks.wait", "target": "callbackUrl"},
				{"source": "execution.id", "target": "executionId"}}}),
			callbackNode("wait", data), outputNode("done", map[string]any{"ok": true})},
		[]map[string]any{edge("start", "kyc"), edge("kyc", "wait"), edge("wait", "done")}
}

// waitingForCallback starts an execution of callbackFlow(nil) and returns
// it, waiting, with the path of its callback URL.
func (e *flowEnv) waitingForCallback() (id, path string) {
	e.t.Helper()
	id = e.startAsync(e.activate(e.callbackFlow(nil)), nil)
	path = callbackPath(e.t, e.waitCalls("/kyc", 1)[0], "callbackUrl")
	e.awaitStatus(id, "waiting")
	return id, path
}

// callBack posts a callback: no credential, whatever the server requires.
func (h *harness) callBack(path string, body any) response {
	h.t.Helper()
	c := *h
	c.headers = nil
	return c.do("POST", path, body)
}

func TestCallback(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, nil, "")
	id, path := e.waitingForCallback()

	// No credential needed; an empty body is a null payload.
	r := e.callBack(path, nil)
	require.Equal(t, http.StatusAccepted, r.status, "an empty body is a null payload: %s", r.body)
	e.expect(e.callBack(path, `{"x": 1}`), http.StatusConflict, "FLK-0525")
	res := e.await(id, "completed")
	require.Nil(t, step(t, res, "wait")["output"], "the empty body: null")
	require.Equal(t, map[string]any{"ok": true}, res["finalOutput"])

	// The stored input of the call hides the token: it is the credential.
	sent := step(t, res, "kyc")["input"].(map[string]any)["body"].(map[string]any)
	require.Equal(t, "http://localhost:4021/v1/callbacks/REDACTED", sent["callbackUrl"])
	require.Equal(t, id, sent["executionId"])
}

func TestCallbackPayloadAndRefusals(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, nil, "")
	id, path := e.waitingForCallback()
	token := strings.TrimPrefix(path, "/v1/callbacks/")

	// Forged, malformed or naming an unknown execution: the same 404.
	raw, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	tampered := append([]byte(nil), raw...)
	tampered[len(tampered)-1] ^= 1
	other := uuid.New()
	otherExec := append(other[:], raw[16:]...)
	var refusals []string
	for _, bad := range []string{base64.RawURLEncoding.EncodeToString(tampered), "abc",
		base64.RawURLEncoding.EncodeToString(otherExec), strings.ToUpper(token)} {
		refusals = append(refusals, e.expect(e.callBack("/v1/callbacks/"+bad, map[string]any{}),
			http.StatusNotFound, "FLK-0524")["message"].(string))
	}
	require.Equal(t, []string{refusals[0], refusals[0], refusals[0], refusals[0]}, refusals,
		"never says whether the execution exists")
	e.expect(e.callBack(path, "not json"), http.StatusBadRequest, "FLK-0001")
	e.expect(e.do("POST", path, "[1]", "Content-Type", "text/plain"), http.StatusBadRequest, "FLK-0001")
	require.Equal(t, "waiting", e.status(id), "nothing refused was delivered")
	// A credential sent along is not checked.
	e.expect(e.do("POST", path, map[string]any{"ok": "yes"}, "X-API-Key", "wrong"), http.StatusAccepted, "")

	res := e.await(id, "completed")
	require.Equal(t, map[string]any{"ok": "yes"}, step(t, res, "wait")["output"])
	e.expect(e.callBack(path, []any{"again"}), http.StatusConflict, "FLK-0525")
	require.Equal(t, "completed", e.status(id))
}

// The callback's JSON, any value, is the node's output; an executor node
// after it reads it.
func TestCallbackOutputFeedsTheNextNode(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, nil, "")
	nodes, edges := e.callbackFlow(map[string]any{"timeout": "1h"})
	nodes = append(nodes, e.callNode("book", "/book", map[string]any{"inputMapping": []map[string]any{
		{"source": "wait.verdict", "target": "verdict"}}}))
	edges = append(edges, edge("wait", "book"))
	id := e.startAsync(e.activate(nodes, edges), nil)
	path := callbackPath(t, e.waitCalls("/kyc", 1)[0], "callbackUrl")
	payload := map[string]any{"verdict": "clear", "score": 3.5, "hits": []any{}}
	require.Equal(t, map[string]any{"status": "accepted"},
		e.expect(e.callBack(path, payload), http.StatusAccepted, ""))
	res := e.await(id, "completed")
	require.Equal(t, payload, step(t, res, "wait")["output"])
	require.JSONEq(t, `{"verdict": "clear"}`, string(e.waitCalls("/book", 1)[0].Body))
}

// A callback that arrives before the execution reaches its node — here
// during the very call that hands its URL out — is kept and used.
func TestCallbackBeforeTheNodeIsReached(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, nil, "")
	var during atomic.Int64
	e.fake.HandleFunc("/kyc", func(req providertest.Request) providertest.Response {
		var body struct{ CallbackURL string }
		status := -1
		if json.Unmarshal(req.Body, &body) == nil {
			if u, err := url.Parse(body.CallbackURL); err == nil { // the path: PUBLIC_URL is not this server
				if s, _, _, err := rawPost(e.base, u.Path, map[string]any{"early": true}); err == nil {
					status = s
				}
			}
		}
		during.Store(int64(status))
		return okJSON(map[string]any{"accepted": true})
	})
	id := e.startAsync(e.activate(e.callbackFlow(nil)), nil)
	res := e.await(id, "completed")
	require.Equal(t, int64(http.StatusAccepted), during.Load())
	require.Equal(t, map[string]any{"early": true}, step(t, res, "wait")["output"])
	path := callbackPath(t, e.fake.RequestsTo("/kyc")[0], "callbackUrl")
	e.expect(e.callBack(path, map[string]any{}), http.StatusConflict, "FLK-0525")
}

// With a timeout, a callback after it passed is too late.
func TestCallbackTooLate(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, nil, "")
	nodes, edges := e.callbackFlow(map[string]any{"timeout": "1s"})
	nodes = append(nodes, outputNode("gave-up", map[string]any{"timedOut": true}))
	edges = append(edges, edge("wait", "gave-up", "timeout"))
	id := e.startAsync(e.activate(nodes, edges), nil)
	path := callbackPath(t, e.waitCalls("/kyc", 1)[0], "callbackUrl")
	res := e.await(id, "completed")
	require.Equal(t, map[string]any{"timedOut": true}, res["finalOutput"])
	require.Equal(t, "skipped", statuses(t, res)["done"])
	e.expect(e.callBack(path, map[string]any{"late": true}), http.StatusConflict, "FLK-0526")
}

// The signals route delivers by name, with executions:manage; a signal
// sent while an earlier node still runs is kept.
func TestSignal(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, []string{"viewer"}, "viewer=executions:read")
	release := e.hold("/slow")
	wf := e.activate([]map[string]any{triggerNode("start"), e.callNode("slow", "/slow"),
		callbackNode("approval", map[string]any{"signal": "approved"}), e.callNode("after", "/after")},
		[]map[string]any{edge("start", "slow"), edge("slow", "approval"), edge("approval", "after")})
	id := e.startAsync(wf, nil)
	e.waitCalls("/slow", 1)

	e.expect(e.do("POST", "/v1/executions/"+id+"/signals/nope", map[string]any{}), http.StatusNotFound, "FLK-0527")
	e.expect(e.do("POST", "/v1/executions/"+id+"/signals/approval", map[string]any{}), http.StatusNotFound, "FLK-0527")
	e.expect(e.do("POST", "/v1/executions/"+uuid.NewString()+"/signals/approved", map[string]any{}),
		http.StatusNotFound, "FLK-0500")
	e.expect(e.do("POST", "/v1/executions/x/signals/approved", map[string]any{}), http.StatusBadRequest, "FLK-0002")
	e.as("viewer").expectAuthError(e.as("viewer").do("POST", "/v1/executions/"+id+"/signals/approved", []any{1}),
		http.StatusForbidden, "missing permission executions:manage")
	e.expect(e.do("POST", "/v1/executions/"+id+"/signals/approved", []any{"a", 1}), http.StatusAccepted, "")
	e.expect(e.do("POST", "/v1/executions/"+id+"/signals/approved", []any{"b"}), http.StatusConflict, "FLK-0525")
	require.Equal(t, "running", e.status(id), "the signal came early: kept")

	release()
	res := e.await(id, "completed")
	require.Equal(t, []any{"a", float64(1)}, step(t, res, "approval")["output"])
	require.Len(t, e.waitCalls("/after", 1), 1)
	e.expect(e.do("POST", "/v1/executions/"+id+"/signals/approved", nil), http.StatusConflict, "FLK-0525")

	events := e.expect(e.do("GET", "/v1/audit-events?eventType=SIGNAL_RECEIVED", nil), http.StatusOK, "")["items"].([]any)
	require.Len(t, events, 1)
	ev := events[0].(map[string]any)
	require.Equal(t, "ops", ev["actor"].(map[string]any)["id"])
	require.Equal(t, true, ev["metadata"].(map[string]any)["early"])
}
