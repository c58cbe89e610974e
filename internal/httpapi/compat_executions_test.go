package httpapi_test

// Compatibility: the execution and webhook routes (reference/flowker-api.md
// §4.2, §4.3, §3.2; reference/flowker-engine.md §1.2–1.8) — status codes,
// error codes and bodies.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// executionStatusKeys are the keys of the reference's ExecutionStatusOutput
// (completedAt once finished).
var executionStatusKeys = []string{"executionId", "workflowId", "status", "currentStepNumber", "totalSteps", "startedAt", "completedAt"}

func TestCompatExecutionRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	wf := h.expect(h.do("POST", "/v1/workflows", linear("compat-executions")), http.StatusCreated, "")["workflowId"].(string)
	draft := h.expect(h.do("POST", "/v1/workflows", linear("compat-draft")), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+wf+"/activate", nil), http.StatusOK, "")
	start := "/v1/workflows/" + wf + "/executions"

	// Start: 201 {executionId, workflowId, status, startedAt}.
	r := h.do("POST", start, `{"inputData": {"amount": 10}}`, "Idempotency-Key", "  compat-key-1  ")
	created := h.expect(r, http.StatusCreated, "")
	require.ElementsMatch(t, []string{"executionId", "workflowId", "status", "startedAt"}, keys(created))
	id := created["executionId"].(string)
	res := h.await(id, "completed")

	// Status: the reference's shape.
	st := h.expect(h.do("GET", "/v1/executions/"+id, nil), http.StatusOK, "")
	requireKeys(t, st, executionStatusKeys...)
	require.Equal(t, 1.0, st["totalSteps"], "non-trigger nodes")
	require.Equal(t, 1.0, st["currentStepNumber"])

	// Results: the reference's shape, stepName from the node name.
	requireKeys(t, res, "executionId", "workflowId", "status", "stepResults", "finalOutput", "startedAt", "completedAt")
	s := steps(t, res)[0]
	requireKeys(t, s, "stepNumber", "stepName", "nodeId", "status", "output", "executedAt", "durationMs")
	require.Equal(t, "Approve", s["stepName"])
	require.Equal(t, 1.0, s["stepNumber"])
	require.Equal(t, map[string]any{"ok": true}, res["finalOutput"])

	// The key is trimmed; a replay of a finished execution is 200 with the same id.
	again := h.expect(h.do("POST", start, `{"inputData": {"amount": 10}}`, "Idempotency-Key", "compat-key-1"), http.StatusOK, "")
	require.Equal(t, id, again["executionId"])

	// inputData absent or null is accepted, as in the reference.
	for _, body := range []string{`{}`, `{"inputData": null}`} {
		h.expect(h.do("POST", start, body, "Idempotency-Key", uuid.NewString()), http.StatusCreated, "")
	}

	// List: the envelope, filters, sorts and limits of the reference.
	list := h.expect(h.do("GET", "/v1/executions?workflowId="+wf+"&status=completed&limit=1&sortBy=startedAt&sortOrder=DESC", nil),
		http.StatusOK, "")
	requireKeys(t, list, "items", "nextCursor", "hasMore")
	page := items(t, list)
	require.Len(t, page, 1)
	requireKeys(t, page[0], executionStatusKeys...)
	if list["hasMore"] == true {
		next := h.expect(h.do("GET", "/v1/executions?workflowId="+wf+"&status=completed&limit=1&cursor="+list["nextCursor"].(string), nil),
			http.StatusOK, "")
		require.NotEqual(t, page[0]["executionId"], items(t, next)[0]["executionId"], "the cursor carries the sort")
	}
	h.expect(h.do("GET", "/v1/executions?sortOrder=asc", nil), http.StatusOK, "")

	for _, tc := range []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		code               string
	}{
		{"no Idempotency-Key", "POST", start, `{"inputData": {}}`, nil, 400, "FLK-0509"},
		{"blank Idempotency-Key", "POST", start, `{"inputData": {}}`, []string{"Idempotency-Key", "   "}, 400, "FLK-0509"},
		{"bad workflow id", "POST", "/v1/workflows/nope/executions", `{"inputData": {}}`, []string{"Idempotency-Key", "k"}, 400, "FLK-0002"},
		{"unknown workflow", "POST", "/v1/workflows/" + uuid.NewString() + "/executions", `{"inputData": {}}`,
			[]string{"Idempotency-Key", uuid.NewString()}, 404, "FLK-0100"},
		{"workflow not active", "POST", "/v1/workflows/" + draft + "/executions", `{"inputData": {}}`,
			[]string{"Idempotency-Key", uuid.NewString()}, 422, "FLK-0501"},
		{"not json", "POST", start, `{"inputData":`, []string{"Idempotency-Key", uuid.NewString()}, 400, "FLK-0001"},
		{"get: bad id", "GET", "/v1/executions/nope", nil, nil, 400, "FLK-0002"},
		{"get: unknown", "GET", "/v1/executions/" + uuid.NewString(), nil, nil, 404, "FLK-0500"},
		{"results: bad id", "GET", "/v1/executions/nope/results", nil, nil, 400, "FLK-0002"},
		{"results: unknown", "GET", "/v1/executions/" + uuid.NewString() + "/results", nil, nil, 404, "FLK-0500"},
		// Deliberate difference (docs/decisions.md, "Strict input"): one limit code, FLK-0304, on every list.
		{"list: limit 0", "GET", "/v1/executions?limit=0", nil, nil, 400, "FLK-0304"},
		{"list: limit 101", "GET", "/v1/executions?limit=101", nil, nil, 400, "FLK-0304"},
		{"list: bad status", "GET", "/v1/executions?status=done", nil, nil, 400, "FLK-0304"},
		{"list: bad sortBy", "GET", "/v1/executions?sortBy=name", nil, nil, 400, "FLK-0304"},
		{"list: bad sortOrder", "GET", "/v1/executions?sortOrder=up", nil, nil, 400, "FLK-0310"},
		{"list: bad workflowId", "GET", "/v1/executions?workflowId=nope", nil, nil, 400, "FLK-0002"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			h.expect(h.do(tc.method, tc.path, tc.body, tc.headers...), tc.status, tc.code)
		})
	}

	// A bad cursor: 400 INVALID_CURSOR (the reference: with an empty title).
	r = h.do("GET", "/v1/executions?cursor=%%%", nil)
	require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
	require.Equal(t, "INVALID_CURSOR", r.json(t)["code"])
}

func TestCompatWebhookRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := h.expect(h.do("POST", "/v1/workflows", linear("compat-webhook")), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")

	// 201, headers, the create output; the input is the body plus _webhook.
	r := h.do("POST", "/v1/webhooks/tx?source=pos", `{"amount": 10}`, "X-Trace", "t-1", "X-API-Key", "never-stored")
	created := h.expect(r, http.StatusCreated, "")
	require.Equal(t, id, r.header.Get("X-Webhook-Workflow-ID"))
	require.Equal(t, created["executionId"], r.header.Get("X-Webhook-Execution-ID"))
	h.await(created["executionId"].(string), "completed")

	// An Idempotency-Key is optional here and de-duplicates when sent.
	first := h.expect(h.do("POST", "/v1/webhooks/tx", `{"amount": 11}`, "Idempotency-Key", "hook-1"), http.StatusCreated, "")
	h.await(first["executionId"].(string), "completed")
	replay := h.do("POST", "/v1/webhooks/tx", `{"amount": 11}`, "Idempotency-Key", "hook-1")
	require.Equal(t, first["executionId"], h.expect(replay, http.StatusOK, "")["executionId"])

	h.expect(h.do("POST", "/v1/webhooks/tx", "not json"), http.StatusBadRequest, "FLK-0001")
	h.expect(h.do("DELETE", "/v1/webhooks/tx", nil), http.StatusNotFound, "FLK-0361")
}

// TestCompatBodyLimits: an execution or webhook body over the limit is 413
// with the route's code (FLK-0506, FLK-0363), also when the server-wide
// limit (HTTP_MAX_BODY_BYTES, small here so the test sends little) is what
// refuses it; other routes answer FLK-0005.
func TestCompatBodyLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"HTTP_MAX_BODY_BYTES": "2048"})
	id := h.expect(h.do("POST", "/v1/workflows", linear("compat-limits")), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")
	blob := strings.Repeat("x", 4096)
	h.expect(h.do("POST", "/v1/workflows/"+id+"/executions", `{"inputData": {"blob": "`+blob+`"}}`,
		"Idempotency-Key", "k"), http.StatusRequestEntityTooLarge, "FLK-0506")
	h.expect(h.do("POST", "/v1/webhooks/tx", `{"blob": "`+blob+`"}`), http.StatusRequestEntityTooLarge, "FLK-0363")
	h.expect(h.do("POST", "/v1/workflows", `{"name": "`+blob+`"}`), http.StatusRequestEntityTooLarge, "FLK-0005")
}
