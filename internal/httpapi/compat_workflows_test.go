package httpapi_test

// Compatibility: the workflow routes (reference/flowker-api.md §4.1, §5.1,
// §6.1) — status codes, error codes and response bodies as the reference
// answers them.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// workflowCreateKeys are the keys of the reference's WorkflowCreateOutput.
var workflowCreateKeys = []string{"workflowId", "version", "status", "createdAt"}

// workflowKeys are the keys of the reference's WorkflowOutput (description
// and metadata are present here because the fixtures set them).
var workflowKeys = []string{"id", "name", "description", "status", "nodes", "edges", "metadata", "createdAt", "updatedAt"}

func requireKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		require.Contains(t, m, k, "%v", m)
	}
}

func TestCompatWorkflowLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	body := linear("compat-lifecycle")

	created := h.expect(h.do("POST", "/v1/workflows", body), http.StatusCreated, "")
	requireKeys(t, created, workflowCreateKeys...)
	require.Equal(t, "draft", created["status"])
	// The reference answered a constant "1.0.0"; Flowker the revision, still a string.
	require.IsType(t, "", created["version"])
	id := created["workflowId"].(string)
	path := "/v1/workflows/" + id

	got := h.expect(h.do("GET", path, nil), http.StatusOK, "")
	requireKeys(t, got, workflowKeys...)
	require.Equal(t, id, got["id"])
	node := got["nodes"].([]any)[0].(map[string]any)
	requireKeys(t, node, "id", "type", "position", "data")
	require.Equal(t, map[string]any{"x": 10.0, "y": 20.0}, node["position"])
	require.Equal(t, map[string]any{"x": 0.0, "y": 0.0}, got["nodes"].([]any)[1].(map[string]any)["position"],
		"a missing position is {0,0}")
	requireKeys(t, got["edges"].([]any)[0].(map[string]any), "id", "source", "target")

	// PUT replaces the definition and merges metadata (draft only).
	body["description"] = "edited"
	body["metadata"] = map[string]any{"owner": "ops"}
	upd := h.expect(h.do("PUT", path, body), http.StatusOK, "")
	require.Equal(t, "edited", upd["description"])
	require.Equal(t, map[string]any{"team": "risk", "owner": "ops"}, upd["metadata"])

	// Lists: the envelope, filters and sorts the reference offers.
	list := h.expect(h.do("GET", "/v1/workflows?status=draft&limit=10&sortBy=name&sortOrder=ASC", nil), http.StatusOK, "")
	requireKeys(t, list, "items", "nextCursor", "hasMore")
	require.Equal(t, []string{"compat-lifecycle"}, names(items(t, list)))
	require.Equal(t, "", list["nextCursor"])

	// Transitions: draft → active → inactive → draft, each 200 with the workflow.
	for _, tr := range []struct{ action, status string }{
		{"activate", "active"}, {"deactivate", "inactive"}, {"draft", "draft"}, {"activate", "active"},
	} {
		m := h.expect(h.do("POST", path+"/"+tr.action, nil), http.StatusOK, "")
		requireKeys(t, m, workflowKeys...)
		require.Equal(t, tr.status, m["status"], tr.action)
	}
	// Clone works from any status; the copy is a draft.
	clone := h.expect(h.do("POST", path+"/clone", `{"name": "compat-lifecycle-copy"}`), http.StatusCreated, "")
	requireKeys(t, clone, workflowCreateKeys...)
	require.Equal(t, "draft", clone["status"])

	// Wrong-status answers.
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"POST", path + "/activate", nil, 422, "FLK-0102"},
		{"POST", path + "/draft", nil, 422, "FLK-0102"},
		{"PUT", path, body, 422, "FLK-0103"},
		{"DELETE", path, nil, 422, "FLK-0103"},
	} {
		h.expect(h.do(tc.method, tc.path, tc.body), tc.status, tc.code)
	}
	h.expect(h.do("POST", path+"/deactivate", nil), http.StatusOK, "")
	h.expect(h.do("POST", path+"/deactivate", nil), http.StatusUnprocessableEntity, "FLK-0102")

	// Delete: inactive and draft workflows, 204 with no body.
	for _, p := range []string{path, "/v1/workflows/" + clone["workflowId"].(string)} {
		del := h.do("DELETE", p, nil)
		require.Equal(t, http.StatusNoContent, del.status, string(del.body))
		require.Empty(t, del.body)
		h.expect(h.do("GET", p, nil), http.StatusNotFound, "FLK-0100")
	}
}

func TestCompatWorkflowErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	pc := h.createProvider(tracerBody("tracer-errors", "https://tracer.example.com", "tr-key-abcd1234"))
	midaz := h.createProvider(midazBody("midaz-errors", "https://ledger.example.com", nil))
	disabled := h.createProvider(tracerBody("tracer-disabled", "https://tracer.example.com", "tr-key-abcd1234"))
	h.expect(h.do("POST", pcRoute+"/"+disabled+"/disable", nil), http.StatusOK, "")
	h.expect(h.do("POST", "/v1/workflows", linear("taken")), http.StatusCreated, "")
	empty := h.expect(h.do("POST", "/v1/workflows", map[string]any{"name": "no-nodes"}), http.StatusCreated, "")["workflowId"].(string)
	noTrigger := h.expect(h.do("POST", "/v1/workflows", map[string]any{"name": "no-trigger",
		"nodes": []map[string]any{{"id": "a", "type": "action"}}}), http.StatusCreated, "")["workflowId"].(string)

	// withNode is linear() with one more node (an executor with data) after the trigger.
	withNode := func(data map[string]any) map[string]any {
		b := linear("exec-" + strings.ReplaceAll(strings.ToLower(data["__name"].(string)), " ", "-"))
		delete(data, "__name")
		b["nodes"] = append(b["nodes"].([]map[string]any), map[string]any{"id": "call", "type": "executor", "data": data})
		b["edges"] = append(b["edges"].([]map[string]any), map[string]any{"id": "e2", "source": "hook", "target": "call"})
		return b
	}
	exec := func(name string, extra map[string]any) map[string]any {
		d := map[string]any{"__name": name, "executorId": "tracer.validate-transaction", "providerConfigId": pc, "endpointName": "v"}
		for k, v := range extra {
			d[k] = v
		}
		return withNode(d)
	}
	manyNodes := linear("many-nodes")
	for i := range 100 {
		manyNodes["nodes"] = append(manyNodes["nodes"].([]map[string]any), map[string]any{"id": fmt.Sprintf("n%03d", i), "type": "action"})
	}
	bad := linear("dangling")
	bad["edges"] = []map[string]any{{"id": "e1", "source": "hook", "target": "nowhere"}}

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"not json", "POST", "/v1/workflows", `{"name":`, 400, "FLK-0001"},
		{"wrong type", "POST", "/v1/workflows", `{"name": 123}`, 400, "FLK-0001"},
		{"name required", "POST", "/v1/workflows", `{"name": ""}`, 400, "FLK-0110"},
		{"name over 100 bytes", "POST", "/v1/workflows", map[string]any{"name": "é" + strings.Repeat("a", 99)}, 400, "FLK-0111"},
		{"over 100 nodes", "POST", "/v1/workflows", manyNodes, 400, "FLK-0113"},
		{"dangling edge", "POST", "/v1/workflows", bad, 400, "FLK-0115"},
		{"duplicate name", "POST", "/v1/workflows", linear("taken"), 409, "FLK-0101"},
		{"executorId missing", "POST", "/v1/workflows", withNode(map[string]any{"__name": "no-id", "providerConfigId": pc}),
			400, "WORKFLOW_INVALID_EXECUTOR_CONFIG"},
		// Deliberate difference (docs/decisions.md, "Strict input"): a reference in a body is 400, not 404.
		{"unknown executor", "POST", "/v1/workflows", exec("unknown", map[string]any{"executorId": "tracer.nope"}), 400, "FLK-0104"},
		{"providerConfigId missing", "POST", "/v1/workflows", exec("no-pc", map[string]any{"providerConfigId": ""}), 400, "FLK-0150"},
		{"providerConfigId not a uuid", "POST", "/v1/workflows", exec("pc-x", map[string]any{"providerConfigId": "x"}), 400, "FLK-0150"},
		{"provider config not found", "POST", "/v1/workflows",
			exec("pc-gone", map[string]any{"providerConfigId": "7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a"}), 400, "FLK-0150"},
		{"provider config disabled", "POST", "/v1/workflows", exec("pc-off", map[string]any{"providerConfigId": disabled}), 400, "FLK-0150"},
		{"provider mismatch", "POST", "/v1/workflows", exec("mismatch", map[string]any{"providerConfigId": midaz}), 400, "FLK-0151"},
		{"executor schema", "POST", "/v1/workflows", exec("schema", map[string]any{"currency": "brl"}), 400, "WORKFLOW_INVALID_EXECUTOR_CONFIG"},
		{"bad inputMapping", "POST", "/v1/workflows", exec("in", map[string]any{"inputMapping": "x"}), 400, "FLK-0140"},
		{"bad outputMapping", "POST", "/v1/workflows", exec("out", map[string]any{"outputMapping": []any{
			map[string]any{"source": "body.x", "target": "y", "transformation": map[string]any{"type": "nope"}}}}), 400, "FLK-0141"},
		{"bad transforms", "POST", "/v1/workflows", exec("tr", map[string]any{"transforms": []any{
			map[string]any{"operation": "nope", "spec": map[string]any{}}}}), 400, "FLK-0142"},
		{"template not found", "POST", "/v1/workflows/from-template", `{"templateId": "nope", "params": {}}`, 400, "FLK-0240"},
		{"template params", "POST", "/v1/workflows/from-template", `{"templateId": "tracer-midaz-validation"}`, 400, "FLK-0242"},
		{"bad id", "GET", "/v1/workflows/not-a-uuid", nil, 400, "FLK-0002"},
		{"unknown id", "GET", "/v1/workflows/7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a", nil, 404, "FLK-0100"},
		{"unknown id, put", "PUT", "/v1/workflows/7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a", linear("x"), 404, "FLK-0100"},
		{"unknown id, delete", "DELETE", "/v1/workflows/7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a", nil, 404, "FLK-0100"},
		{"unknown id, activate", "POST", "/v1/workflows/7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a/activate", nil, 404, "FLK-0100"},
		{"unknown id, clone", "POST", "/v1/workflows/7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a/clone", `{"name": "c"}`, 404, "FLK-0100"},
		{"clone without body", "POST", "/v1/workflows/" + empty + "/clone", nil, 400, "FLK-0001"},
		{"clone to a taken name", "POST", "/v1/workflows/" + empty + "/clone", `{"name": "taken"}`, 409, "FLK-0101"},
		{"activate without nodes", "POST", "/v1/workflows/" + empty + "/activate", nil, 422, "FLK-0112"},
		{"activate without trigger", "POST", "/v1/workflows/" + noTrigger + "/activate", nil, 422, "FLK-0116"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			h.expect(h.do(tc.method, tc.path, tc.body), tc.status, tc.code)
		})
	}

	// A JSON body without a JSON content type is 400 FLK-0001, as in the reference.
	r := h.do("POST", "/v1/workflows", linear("plain-text"), "Content-Type", "text/plain")
	h.expect(r, http.StatusBadRequest, "FLK-0001")

	// From template: 201 with the create output.
	tmpl := h.expect(h.do("POST", "/v1/workflows/from-template", map[string]any{"templateId": "tracer-midaz-validation",
		"params": map[string]any{"workflowName": "from-template", "tracerProviderConfigId": pc, "midazProviderConfigId": midaz}}),
		http.StatusCreated, "")
	requireKeys(t, tmpl, workflowCreateKeys...)
	got := h.expect(h.do("GET", "/v1/workflows/"+tmpl["workflowId"].(string), nil), http.StatusOK, "")
	require.Equal(t, map[string]any{"templateId": "tracer-midaz-validation", "templateVersion": "v1"}, got["metadata"])
}
