package httpapi_test

// What a client of the reference sends, and what the reference answers
// (../shared/spec/reference/), where a compatibility hunt found Flowker
// answering otherwise. Each test names the reference fact it checks.

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// refCondWorkflow activates trigger(webhook POST path) → conditional(cond).
func refCondWorkflow(h *harness, path, cond string) string {
	h.t.Helper()
	nodes := []map[string]any{
		{"id": "hook", "type": "trigger", "data": map[string]any{"triggerType": "webhook", "path": path, "method": "POST"}},
		condNode("check", cond),
	}
	return h.activate(nodes, []map[string]any{edge("hook", "check")})
}

// refCondResult is the conditional step's result of a completed execution.
func refCondResult(t *testing.T, h *harness, r response) any {
	t.Helper()
	id := h.expect(r, http.StatusCreated, "")["executionId"].(string)
	res := h.await(id, "completed")
	return stepsOf(t, res, "check")[0]["output"].(map[string]any)["result"]
}

// flowker-api.md:1205 and :1222: _webhook.path is the wildcard path
// *without* a leading slash ("hooks/order" for POST /v1/webhooks/hooks/order).
func TestWebhookPathHasNoLeadingSlash(t *testing.T) {
	h := newHarness(t, nil)
	refCondWorkflow(h, "/hooks/order", `workflow._webhook.path == "hooks/order"`)
	got := refCondResult(t, h, h.do("POST", "/v1/webhooks/hooks/order?x=1", `{"a":1}`))
	require.Equal(t, true, got, "reference: _webhook.path is \"hooks/order\"")
}

// flowker-api.md:1205, flowker-engine.md:200: _webhook carries remote_ip.
func TestWebhookInputHasRemoteIP(t *testing.T) {
	h := newHarness(t, nil)
	refCondWorkflow(h, "/hooks/ip", `workflow._webhook.remote_ip == "127.0.0.1"`)
	got := refCondResult(t, h, h.do("POST", "/v1/webhooks/hooks/ip", `{"a":1}`))
	require.Equal(t, true, got)
}

// flowker-api.md:1195-1202, flowker-engine.md:199: order of checks is body
// size → route lookup (404 FLK-0361) → token (401 FLK-0362) → body parse
// (400 FLK-0001). A call to a path with no route is 404 whatever its body.
func TestWebhookRouteLookupBeforeBody(t *testing.T) {
	h := newHarness(t, nil)
	h.expect(h.do("POST", "/v1/webhooks/nothing-here", "not json"), http.StatusNotFound, "FLK-0361")
	h.expect(h.do("POST", "/v1/webhooks/nothing-here", `{"a":1}`, "Content-Type", "text/plain"), http.StatusNotFound, "FLK-0361")
}

// Same order: a route with a verify token answers 401 to a caller without
// the token before it looks at the body.
func TestWebhookTokenBeforeBody(t *testing.T) {
	h := newHarness(t, nil)
	nodes := []map[string]any{
		{"id": "hook", "type": "trigger", "data": map[string]any{"triggerType": "webhook", "path": "/tok", "method": "POST",
			"verify_token": "s3cret-token"}},
		outputNode("out", map[string]any{"ok": true}),
	}
	h.activate(nodes, []map[string]any{edge("hook", "out")})
	h.expect(h.do("POST", "/v1/webhooks/tok", "not json"), http.StatusUnauthorized, "FLK-0362")
}

// flowker-engine.md:371: in the reference's condition dialect `true` /
// `false` are case-insensitive (True, FALSE, …). PRODUCT.md §3: conditions
// written in the reference's dialect keep working. The reference never
// validates conditions at save, so such a workflow is created (201).
func TestConditionBooleanLiteralsAnyCase(t *testing.T) {
	h := newHarness(t, nil)
	for _, cond := range []string{`workflow.flag == True`, `workflow.flag != FALSE`} {
		t.Run(cond, func(t *testing.T) {
			h := h.with(t)
			nodes := []map[string]any{triggerNode("t"), condNode("check", cond)}
			r := h.do("POST", "/v1/workflows", workflowBody(nodes, []map[string]any{edge("t", "check")}))
			id := h.expect(r, http.StatusCreated, "")["workflowId"].(string)
			h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")
			require.Equal(t, true, refCondResult(t, h, h.start(id, "", map[string]any{"flag": true})))
		})
	}
}

// flowker-api.md:650-653: the provider-configuration test's summary is one
// of three exact texts.
func TestProviderTestSummaryText(t *testing.T) {
	h := newHarness(t, allowPrivate)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(srv.Close)
	ok := h.createProvider(midazBody("reachable", srv.URL, nil))
	res := h.expect(h.do("POST", "/v1/provider-configurations/"+ok+"/test", nil), http.StatusOK, "")
	testStages(t, res, "passed", "passed", "skipped", "passed")
	require.Equal(t, "All tests passed - provider configuration connectivity verified", res["summary"])

	down := h.createProvider(tracerBody("closed", closedPortURL(t), "key-abcdef"))
	res = h.expect(h.do("POST", "/v1/provider-configurations/"+down+"/test", nil), http.StatusOK, "")
	testStages(t, res, "failed", "failed", "skipped", "skipped")
	require.Equal(t, "All tests failed - provider configuration needs review", res["summary"])
}
