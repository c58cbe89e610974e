package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// secretCallFlow is a workflow whose node calls the fake at /pay with a
// secret header of its own; the fake refuses the call (400), so its
// execution fails. It returns the workflow and the failed execution.
func (e *flowEnv) secretCallFlow(sig string) (wf, failed string) {
	e.t.Helper()
	e.fake.Respond("/pay", providertest.Response{Status: http.StatusBadRequest, Body: `{"error":"bad"}`})
	nodes := []map[string]any{triggerNode("start"),
		e.callNode("pay", "/pay", map[string]any{"headers": map[string]any{"X-Partner-Sig": sig}})}
	wf = e.activate(nodes, []map[string]any{edge("start", "pay")})
	res := e.run(wf, nil)
	require.Equal(e.t, "failed", res["status"], "%v", res)
	return wf, res["executionId"].(string)
}

// A failed execution does not hold its configuration's URL (failed
// executions are kept: they would block the move for good), so with its
// workflow deleted the URL moves. Its retry runs the revision it started
// with, whose node holds a secret header: it is refused, 422 FLK-0512
// naming the node and the configuration, and nothing reaches the new host
// (found by a review).
func TestRetryIsRefusedWhenNodeSecretsWouldGoToAMovedURL(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	other := providertest.New(t)
	const sig = "node-partner-value-SECRET-7731"
	wf, id := e.secretCallFlow(sig)
	e.expect(e.do("POST", "/v1/workflows/"+wf+"/deactivate", nil), http.StatusOK, "")
	e.expect(e.do("DELETE", "/v1/workflows/"+wf, nil), http.StatusNoContent, "")
	e.expect(e.do("PATCH", "/v1/provider-configurations/"+e.pc,
		map[string]any{"config": map[string]any{"base_url": other.URL}}), http.StatusOK, "")

	r := e.expect(e.do("POST", "/v1/executions/"+id+"/retry", nil), http.StatusUnprocessableEntity, "FLK-0512")
	require.Contains(t, r["message"], `node "pay"`)
	require.Contains(t, r["message"], e.pc)
	require.Contains(t, r["message"], "start a new execution")
	require.Equal(t, "failed", e.expect(e.do("GET", "/v1/executions/"+id, nil), http.StatusOK, "")["status"])
	require.Empty(t, other.Requests(), "nothing is sent to the configuration's new host")
}

// The refusal is for a configuration changed since the execution started:
// a failed execution whose configurations did not change is retried as
// before, its node's secret header sent where it was.
func TestRetryOfNodeSecretsRunsWhileTheirURLStays(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	const sig = "node-partner-value-SECRET-7731"
	_, id := e.secretCallFlow(sig)
	e.fake.Respond("/pay", providertest.Response{Body: `{"ok":true}`})

	e.expect(e.do("POST", "/v1/executions/"+id+"/retry", nil), http.StatusAccepted, "")
	e.await(id, "completed")
	calls := e.fake.RequestsTo("/pay")
	require.Len(t, calls, 2)
	require.Equal(t, sig, calls[1].Header.Get("X-Partner-Sig"))
}
