package httpapi_test

// Compatibility: trigger nodes as reference clients write them
// (reference/flowker-api.md §6.3 and §7, reference/flowker-engine.md §1.11,
// §1.12 and §2.2). The reference reads triggerType, path, method and
// verify_token, and stores every other key untouched.

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// triggerWorkflow is trigger (with data) → set_output action.
func triggerWorkflow(data map[string]any) map[string]any {
	trigger := map[string]any{"id": "start", "type": "trigger", "name": "Start", "position": map[string]any{"x": 0, "y": 0}}
	if data != nil {
		trigger["data"] = data
	}
	return map[string]any{
		"name": "trigger-" + uuid.NewString()[:8],
		"nodes": []map[string]any{trigger,
			{"id": "done", "type": "action", "name": "Done", "position": map[string]any{"x": 200, "y": 0},
				"data": map[string]any{"actionType": "set_output", "output": map[string]any{"ok": true}}}},
		"edges": []map[string]any{{"id": "e1", "source": "start", "target": "done"}},
	}
}

func TestCompatTriggerData(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tests := []struct {
		name string
		data map[string]any
		// hook is the webhook path to call ("" = the workflow starts by API only).
		hook, method string
		headers      []string
	}{
		{name: "reference editor: triggerId, triggerType, path, method",
			data: map[string]any{"triggerId": "webhook", "triggerType": "webhook", "path": "/compat/editor", "method": "POST"},
			hook: "/compat/editor", method: "POST"},
		{name: "template shape: triggerType, path, method",
			data: map[string]any{"triggerType": "webhook", "path": "/compat/template", "method": "POST"},
			hook: "/compat/template", method: "POST"},
		{name: "triggerId only: started by API",
			data: map[string]any{"triggerId": "webhook"}},
		{name: "triggerId naming no catalog trigger: stored, ignored",
			data: map[string]any{"triggerId": "manual"}},
		{name: "no data: started by API"},
		{name: "empty data: started by API", data: map[string]any{}},
		{name: "path without leading slash is normalised",
			data: map[string]any{"triggerType": "webhook", "path": "compat/no-slash", "method": "POST"},
			hook: "/compat/no-slash", method: "POST"},
		{name: "trailing slash is normalised",
			data: map[string]any{"triggerType": "webhook", "path": "/compat/trailing/", "method": "PUT"},
			hook: "/compat/trailing", method: "PUT"},
		{name: "method is upper-cased",
			data: map[string]any{"triggerId": "webhook", "triggerType": "webhook", "path": "/compat/lower", "method": "post"},
			hook: "/compat/lower", method: "POST"},
		{name: "multi-segment path, GET",
			data: map[string]any{"triggerType": "webhook", "path": "/compat/a/b/c", "method": "GET"},
			hook: "/compat/a/b/c", method: "GET"},
		{name: "verify_token",
			data: map[string]any{"triggerType": "webhook", "path": "/compat/token", "method": "POST", "verify_token": "tok-12345"},
			hook: "/compat/token", method: "POST", headers: []string{"X-Webhook-Token", "tok-12345"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			created := h.expect(h.do("POST", "/v1/workflows", triggerWorkflow(tc.data)), http.StatusCreated, "")
			id := created["workflowId"].(string)
			got := h.expect(h.do("GET", "/v1/workflows/"+id, nil), http.StatusOK, "")
			stored, _ := got["nodes"].([]any)[0].(map[string]any)["data"].(map[string]any)
			for k, v := range tc.data {
				if k != "verify_token" { // masked on output
					require.Equal(t, v, stored[k], "data key %q is kept as sent", k)
				}
			}
			h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")

			// Every trigger can be started by API.
			r := h.do("POST", "/v1/workflows/"+id+"/executions", `{"inputData": {"n": 1}}`, "Idempotency-Key", uuid.NewString())
			res := h.await(h.expect(r, http.StatusCreated, "")["executionId"].(string), "completed")
			require.Equal(t, map[string]any{"ok": true}, res["finalOutput"])
			if tc.hook == "" {
				return
			}
			if len(tc.headers) > 0 {
				h.expect(h.do(tc.method, "/v1/webhooks"+tc.hook, nil), http.StatusUnauthorized, "FLK-0362")
			}
			r = h.do(tc.method, "/v1/webhooks"+tc.hook, nil, tc.headers...)
			started := h.expect(r, http.StatusCreated, "")
			require.Equal(t, id, r.header.Get("X-Webhook-Workflow-ID"))
			h.await(started["executionId"].(string), "completed")
			// Deactivation removes the route.
			h.expect(h.do("POST", "/v1/workflows/"+id+"/deactivate", nil), http.StatusOK, "")
			h.expect(h.do(tc.method, "/v1/webhooks"+tc.hook, nil, tc.headers...), http.StatusNotFound, "FLK-0361")
		})
	}
}

// TestCompatWebhookMatching: route matching as in reference/flowker-api.md
// §7: exact, case-sensitive on the path, trailing slashes ignored, the
// method must match, the body optional or a JSON object.
func TestCompatWebhookMatching(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := h.expect(h.do("POST", "/v1/workflows", triggerWorkflow(map[string]any{
		"triggerId": "webhook", "triggerType": "webhook", "path": "/compat/Orders", "method": "POST"})), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")

	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"POST", "/v1/webhooks/compat/Orders", `{"a": 1}`, http.StatusCreated, ""},
		{"POST", "/v1/webhooks/compat/Orders/", nil, http.StatusCreated, ""},
		{"POST", "/v1/webhooks/compat/orders", nil, http.StatusNotFound, "FLK-0361"},
		{"PUT", "/v1/webhooks/compat/Orders", nil, http.StatusNotFound, "FLK-0361"},
		{"POST", "/v1/webhooks/compat", nil, http.StatusNotFound, "FLK-0361"},
		{"POST", "/v1/webhooks/compat/Orders", `[1, 2]`, http.StatusBadRequest, "FLK-0001"},
	} {
		r := h.do(tc.method, tc.path, tc.body)
		m := h.expect(r, tc.status, tc.code)
		if tc.status == http.StatusCreated {
			require.ElementsMatch(t, []string{"executionId", "startedAt", "status", "workflowId"}, keys(m), tc.path)
			require.Equal(t, m["executionId"], r.header.Get("X-Webhook-Execution-ID"))
		}
	}
}

// TestCompatTriggerDifferences: where Flowker deliberately answers trigger
// data differently (docs/decisions.md, "Reference clients").
func TestCompatTriggerDifferences(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, tc := range []struct {
		name   string
		data   map[string]any
		status int
		code   string
	}{
		// The reference registers no route and silently makes the workflow
		// API-only; Flowker validates trigger data against the catalog
		// trigger's schema (reference §9.22: "validate trigger configs").
		{"webhook without path", map[string]any{"triggerId": "webhook", "triggerType": "webhook", "method": "POST"},
			http.StatusBadRequest, "FLK-0211"},
		{"webhook without method", map[string]any{"triggerType": "webhook", "path": "/compat/x"},
			http.StatusBadRequest, "FLK-0211"},
		// The trigger schema's method enum, declared by the reference, is enforced.
		{"method outside the schema", map[string]any{"triggerType": "webhook", "path": "/compat/x", "method": "OPTIONS"},
			http.StatusBadRequest, "FLK-0211"},
		// Unknown keys on a typed trigger: the schema forbids them (triggerId aside).
		{"unknown key", map[string]any{"triggerType": "webhook", "path": "/compat/x", "method": "POST", "color": "red"},
			http.StatusBadRequest, "FLK-0211"},
		// A reference in the body: 400 naming the node (the reference stored it and registered nothing).
		{"unknown triggerType", map[string]any{"triggerType": "cron"}, http.StatusBadRequest, "FLK-0211"},
	} {
		m := h.expect(h.do("POST", "/v1/workflows", triggerWorkflow(tc.data)), tc.status, tc.code)
		require.Contains(t, m["message"], `node "start"`, tc.name)
	}

	// A route held by another active workflow: 409 (reference: 400, its own defect D10).
	hook := map[string]any{"triggerType": "webhook", "path": "/compat/taken", "method": "POST"}
	for i, want := range []int{http.StatusOK, http.StatusConflict} {
		id := h.expect(h.do("POST", "/v1/workflows", triggerWorkflow(hook)), http.StatusCreated, "")["workflowId"].(string)
		code := ""
		if i == 1 {
			code = "FLK-0360"
		}
		h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), want, code)
	}
}
