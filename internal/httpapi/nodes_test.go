package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// TestWorkflowFromTemplate: tracer-midaz-validation makes a draft that
// activates once its provider configurations exist and are active.
func TestWorkflowFromTemplate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tracer := h.createProvider(tracerBody("tracer", "https://tracer.example.com", "key-12345"))
	midaz := h.createProvider(midazBody("midaz", "https://midaz.example.com", nil))
	fromTemplate := func(name, tracerID, midazID string) map[string]any {
		return map[string]any{"templateId": templateID, "params": map[string]any{"workflowName": name,
			"workflowDescription": "from the template", "tracerProviderConfigId": tracerID, "midazProviderConfigId": midazID}}
	}

	r := h.do("POST", "/v1/workflows/from-template", fromTemplate("validate-and-pay", tracer, midaz))
	created := h.expect(r, http.StatusCreated, "")
	require.Equal(t, "draft", created["status"])
	wid := created["workflowId"].(string)
	require.Equal(t, "/v1/workflows/"+wid, r.header.Get("Location"))
	wf := h.expect(h.do("GET", "/v1/workflows/"+wid, nil), http.StatusOK, "")
	require.Equal(t, "validate-and-pay", wf["name"])
	require.Equal(t, "from the template", wf["description"])
	require.Len(t, wf["nodes"], 4)
	require.Len(t, wf["edges"], 3)
	require.Equal(t, map[string]any{"templateId": templateID, "templateVersion": "v1"}, wf["metadata"])
	trigger := wf["nodes"].([]any)[0].(map[string]any)["data"].(map[string]any)
	require.Equal(t, "/validate-and-transact", trigger["path"], "defaults applied")
	require.Equal(t, "POST", trigger["method"])

	// Activation re-checks the configurations: a disabled one blocks it.
	path := "/v1/workflows/" + wid
	h.expect(h.do("POST", pcPath+"/"+tracer+"/disable", nil), http.StatusOK, "")
	m := h.expect(h.do("POST", path+"/activate", nil), http.StatusBadRequest, "FLK-0150")
	require.Contains(t, m["message"], "disabled")
	require.Equal(t, "draft", h.expect(h.do("GET", path, nil), http.StatusOK, "")["status"])
	h.expect(h.do("POST", pcPath+"/"+tracer+"/enable", nil), http.StatusOK, "")
	require.Equal(t, "active", h.expect(h.do("POST", path+"/activate", nil), http.StatusOK, "")["status"])

	// Refusals.
	h.expect(h.do("POST", "/v1/workflows/from-template", fromTemplate("validate-and-pay", tracer, midaz)),
		http.StatusConflict, "FLK-0101")
	ghost := "00000000-0000-4000-8000-000000000000"
	m = h.expect(h.do("POST", "/v1/workflows/from-template", fromTemplate("wf-ghost", ghost, midaz)),
		http.StatusBadRequest, "FLK-0150")
	require.Contains(t, m["message"], ghost)
	m = h.expect(h.do("POST", "/v1/workflows/from-template", fromTemplate("wf-mixed", midaz, midaz)),
		http.StatusBadRequest, "FLK-0151")
	require.Contains(t, m["message"], "midaz")
	h.expect(h.do("POST", pcPath+"/"+tracer+"/disable", nil), http.StatusOK, "")
	m = h.expect(h.do("POST", "/v1/workflows/from-template", fromTemplate("wf-disabled", tracer, midaz)),
		http.StatusBadRequest, "FLK-0150")
	require.Contains(t, m["message"], "status: disabled")
	h.expect(h.do("POST", "/v1/workflows/from-template", map[string]any{"templateId": "nope",
		"params": map[string]any{}}), http.StatusBadRequest, "FLK-0240")
	h.expect(h.do("POST", "/v1/workflows/from-template", fromTemplate("wf-bad", "not-a-uuid", midaz)),
		http.StatusBadRequest, "FLK-0242")
	h.expect(h.do("POST", "/v1/workflows/from-template", map[string]any{"templateId": templateID}),
		http.StatusBadRequest, "FLK-0242")
	h.expect(h.do("POST", "/v1/workflows/from-template", `{"templateId":`), http.StatusBadRequest, "FLK-0001")
	stored := names(items(t, h.expect(h.do("GET", "/v1/workflows", nil), http.StatusOK, "")))
	require.Equal(t, []string{"validate-and-pay"}, stored, "refusals stored nothing")
}

// executorWorkflow is webhook trigger → one executor node with data.
func executorWorkflow(name string, data map[string]any) map[string]any {
	return map[string]any{
		"name": name,
		"nodes": []map[string]any{
			{"id": "hook", "type": "trigger", "data": map[string]any{"triggerType": "webhook", "path": "/in", "method": "POST"}},
			{"id": "call", "type": "executor", "name": "Call", "data": data},
		},
		"edges": []map[string]any{{"id": "e1", "source": "hook", "target": "call"}},
	}
}

// TestExecutorNodes: catalog-executor nodes and executor-configuration
// nodes are checked at save and at activation with the reference's codes.
func TestExecutorNodes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	tracer := h.createProvider(tracerBody("tracer", "https://tracer.example.com", "key-12345"))
	midaz := h.createProvider(midazBody("midaz", "https://midaz.example.com", nil))

	// A catalog executor node that passes every check.
	ok := map[string]any{"executorId": "tracer.list-validations", "providerConfigId": tracer,
		"decision": "DENY", "limit": 5, "inputMapping": []any{map[string]any{"source": "workflow.accountId", "target": "accountId"}}}
	wid := h.expect(h.do("POST", "/v1/workflows", executorWorkflow("catalog-node", ok)), http.StatusCreated, "")["workflowId"].(string)
	require.Equal(t, "active", h.expect(h.do("POST", "/v1/workflows/"+wid+"/activate", nil), http.StatusOK, "")["status"])
	// Purely declarative nodes skip the schema (no required fields enforced).
	h.expect(h.do("POST", "/v1/workflows", executorWorkflow("declarative", map[string]any{
		"executorId": "midaz.get-account", "providerConfigId": midaz})), http.StatusCreated, "")

	cfg := func(mod func(d map[string]any)) map[string]any {
		d := map[string]any{"executorId": "tracer.list-validations", "providerConfigId": tracer}
		mod(d)
		return d
	}
	tests := []struct {
		name   string
		data   map[string]any
		status int
		code   string
	}{
		{"executorId missing", cfg(func(d map[string]any) { delete(d, "executorId") }), 400, "WORKFLOW_INVALID_EXECUTOR_CONFIG"},
		{"executorId unknown", cfg(func(d map[string]any) { d["executorId"] = "stripe.charge" }), 400, "FLK-0104"},
		{"providerConfigId missing", cfg(func(d map[string]any) { delete(d, "providerConfigId") }), 400, "FLK-0150"},
		{"providerConfigId not a uuid", cfg(func(d map[string]any) { d["providerConfigId"] = "tracer" }), 400, "FLK-0150"},
		{"providerConfigId unknown", cfg(func(d map[string]any) { d["providerConfigId"] = "00000000-0000-4000-8000-000000000000" }), 400, "FLK-0150"},
		{"provider mismatch", cfg(func(d map[string]any) { d["providerConfigId"] = midaz }), 400, "FLK-0151"},
		{"data fails the schema", cfg(func(d map[string]any) { d["decision"] = "MAYBE" }), 400, "WORKFLOW_INVALID_EXECUTOR_CONFIG"},
		{"extra key on a closed schema", cfg(func(d map[string]any) { d["uiColor"] = "red" }), 400, "WORKFLOW_INVALID_EXECUTOR_CONFIG"},
		{"format asserted", map[string]any{"executorId": "midaz.get-account", "providerConfigId": midaz, "accountId": "acc-1"},
			400, "WORKFLOW_INVALID_EXECUTOR_CONFIG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			h.expect(h.do("POST", "/v1/workflows", executorWorkflow("bad", tc.data)), tc.status, tc.code)
			// Update is checked the same way.
			draft := h.expect(h.do("POST", "/v1/workflows", executorWorkflow("draft-"+tc.name, ok)), http.StatusCreated, "")
			h.expect(h.do("PUT", "/v1/workflows/"+draft["workflowId"].(string), executorWorkflow("draft-"+tc.name, tc.data)),
				tc.status, tc.code)
		})
	}

	// Trigger nodes: webhook data is checked against the trigger schema.
	badHook := executorWorkflow("bad-hook", ok)
	badHook["nodes"].([]map[string]any)[0]["data"] = map[string]any{"triggerType": "webhook", "method": "POST"}
	m := h.expect(h.do("POST", "/v1/workflows", badHook), http.StatusBadRequest, "FLK-0211")
	require.Contains(t, m["message"], "path")
	badHook["nodes"].([]map[string]any)[0]["data"] = map[string]any{"triggerType": "webhook", "path": "/x", "method": "POST", "extra": 1}
	h.expect(h.do("POST", "/v1/workflows", badHook), http.StatusBadRequest, "FLK-0211")
	badHook["nodes"].([]map[string]any)[0]["data"] = map[string]any{"triggerType": "cron", "path": "/x"}
	h.expect(h.do("POST", "/v1/workflows", badHook), http.StatusBadRequest, "FLK-0211")
}

// TestExecutorConfigNodes: a node naming an executor configuration may be
// saved while the configuration is not active, but activates only once it is.
func TestExecutorConfigNodes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	exec := h.createExecutor(executorBody("partner", fake.URL, "none", nil))
	node := map[string]any{"executorConfigId": exec, "endpointName": "check"}

	wid := h.expect(h.do("POST", "/v1/workflows", executorWorkflow("via-config", node)), http.StatusCreated, "")["workflowId"].(string)
	path := "/v1/workflows/" + wid
	for _, status := range []string{"unconfigured", "configured", "tested"} {
		if status != "unconfigured" {
			h.executorTo(exec, status)
		}
		m := h.expect(h.do("POST", path+"/activate", nil), http.StatusBadRequest, "FLK-0152")
		require.Contains(t, m["message"], "not active (status: "+status+")")
	}
	h.expect(h.do("POST", exPath+"/"+exec+"/activate", nil), http.StatusOK, "")
	require.Equal(t, "active", h.expect(h.do("POST", path+"/activate", nil), http.StatusOK, "")["status"])

	// A disabled executor configuration blocks activation again.
	h.expect(h.do("POST", path+"/deactivate", nil), http.StatusOK, "")
	h.expect(h.do("POST", path+"/draft", nil), http.StatusOK, "")
	h.expect(h.do("POST", exPath+"/"+exec+"/disable", nil), http.StatusOK, "")
	h.expect(h.do("POST", path+"/activate", nil), http.StatusBadRequest, "FLK-0152")

	for _, tc := range []struct {
		name string
		data map[string]any
		code string
	}{
		{"unknown endpoint", map[string]any{"executorConfigId": exec, "endpointName": "nope"}, "FLK-0153"},
		{"no endpoint", map[string]any{"executorConfigId": exec}, "WORKFLOW_INVALID_EXECUTOR_CONFIG"},
		{"unknown config", map[string]any{"executorConfigId": "00000000-0000-4000-8000-000000000000", "endpointName": "check"}, "FLK-0152"},
		{"config id not a uuid", map[string]any{"executorConfigId": "partner", "endpointName": "check"}, "FLK-0152"},
	} {
		m := h.expect(h.do("POST", "/v1/workflows", executorWorkflow("bad-"+tc.name, tc.data)), http.StatusBadRequest, tc.code)
		require.NotEmpty(t, m["message"], tc.name)
	}
}
