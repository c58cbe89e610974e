package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// KeepMaskedNodes compared node data executorId/providerConfigId/
// executorConfigId with != on interface values: two objects (maps) there
// panicked, 500 (found by a review). Nodes that call nothing (a
// conditional) keep such data unchecked, so a draft read back and sent
// back unchanged is answered.
func TestNodeDestinationObjectRoundTrip(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"executorId", "providerConfigId", "executorConfigId"} {
		t.Run(key, func(t *testing.T) {
			e := newFlowEnv(t, nil)
			cond := condNode("c", "true")
			cond["data"].(map[string]any)[key] = map[string]any{"a": 1}
			body := workflowBody([]map[string]any{triggerNode("t"), cond}, []map[string]any{edge("t", "c")})
			r := e.do("POST", "/v1/workflows", body)
			if r.status != http.StatusCreated {
				t.Skipf("not stored: %d %s", r.status, r.body)
			}
			id := r.json(t)["workflowId"].(string)
			wf := e.expect(e.do("GET", "/v1/workflows/"+id, nil), http.StatusOK, "")
			u := e.do("PUT", "/v1/workflows/"+id, map[string]any{"name": wf["name"], "nodes": wf["nodes"], "edges": wf["edges"]})
			require.Less(t, u.status, 500, "an unchanged draft sent back: %d %s", u.status, u.body)
		})
	}
}

// The base URL as sent was compared with the stored one, normalised (no
// trailing slash): the same URL sent again as it was created
// ("https://host/") counted as a move, and an update that moves nothing (a
// credential rotation) was refused 409 (found by a review).
func TestExecutorSameURLWithSlashIsNoMove(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	base := e.fake.URL + "/"
	exec := e.createExecutor(executorBody("partner", base, "none", nil))
	node := map[string]any{"id": "call", "type": "executor",
		"data": map[string]any{"executorConfigId": exec, "endpointName": "check",
			"headers": map[string]any{"Authorization": "Bearer node-secret-5511"}}}
	id := e.expect(e.do("POST", "/v1/workflows", workflowBody([]map[string]any{triggerNode("t"), node},
		[]map[string]any{edge("t", "call")})), http.StatusCreated, "")["workflowId"].(string)
	read := e.do("GET", "/v1/workflows/"+id, nil)
	require.NotContains(t, string(read.body), "node-secret-5511", "precondition: the node holds a secret")
	upd := executorBody("partner", base, "none", nil)
	upd["description"] = "new description, same URL"
	r := e.do("PATCH", "/v1/executors/"+exec, upd)
	require.Equal(t, http.StatusOK, r.status, "the same base URL, sent as created, refused: %s", r.body)
}

// An execution under way runs the revision it started with: its nodes'
// secrets go wherever the configuration points when the run reaches them.
// With the workflow deactivated and deleted while an execution waited,
// the URL moved unrefused, and the resumed run sent its secret header to
// the new host (found by a review). Refused while such executions run.
func TestInFlightRevisionSecretsDoNotFollowURL(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	other := providertest.New(t)
	const hmac = "node-partner-value-SECRET-4242"
	nodes := []map[string]any{triggerNode("start"),
		e.callNode("kyc", "/kyc", map[string]any{"inputMapping": []map[string]any{
			{"source": "execution.callbacks.wait", "target": "callbackUrl"}}}),
		callbackNode("wait", nil),
		e.callNode("pay", "/pay", map[string]any{"headers": map[string]any{"X-Partner-Sig": hmac}})}
	edges := []map[string]any{edge("start", "kyc"), edge("kyc", "wait"), edge("wait", "pay")}
	wf := e.activate(nodes, edges)
	id := e.startAsync(wf, nil)
	path := callbackPath(t, e.waitCalls("/kyc", 1)[0], "callbackUrl")
	e.awaitStatus(id, "waiting")
	e.expect(e.do("POST", "/v1/workflows/"+wf+"/deactivate", nil), http.StatusOK, "")
	if r := e.do("DELETE", "/v1/workflows/"+wf, nil); r.status >= 300 {
		t.Skipf("workflow not deletable: %d %s", r.status, r.body)
	}
	r := e.do("PATCH", "/v1/provider-configurations/"+e.pc, map[string]any{"config": map[string]any{"base_url": other.URL}})
	if r.status != http.StatusOK {
		return // refused: held
	}
	require.Less(t, e.callBack(path, `{"ok": true}`).status, 300)
	e.awaitStatus(id, "completed")
	for _, req := range other.Requests() {
		require.NotEqual(t, hmac, req.Header.Get("X-Partner-Sig"),
			"the in-flight execution's node secret reached the configuration's new host %s", other.URL)
	}
}
