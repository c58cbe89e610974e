package httpapi_test

// Strict input (issue 10): triggers, node types, references in bodies,
// required fields, URL schemes and unknown fields, each refused at save
// with a 400 that names the field or the node.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestStrictTriggersAndNodes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, tc := range []struct {
		name  string
		data  map[string]any
		code  string
		words []string
	}{
		{"misspelt triggerType", map[string]any{"triggerType": "webhok", "path": "/x", "method": "POST"},
			"FLK-0211", []string{`node "start"`, `"webhok"`, "webhook"}},
		{"triggerType of the wrong type", map[string]any{"triggerType": 7}, "FLK-0211", []string{`node "start"`, "7"}},
		{"path and method without triggerType", map[string]any{"path": "/orders", "method": "POST"},
			"FLK-0211", []string{`node "start"`, `"triggerType": "webhook"`, "missing"}},
		{"triggerId with a path but no triggerType", map[string]any{"triggerId": "webhook", "path": "/orders"},
			"FLK-0211", []string{`node "start"`, "triggerType"}},
		{"verify_token alone", map[string]any{"verify_token": "abc"}, "FLK-0211", []string{"triggerType"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			m := h.expect(h.do("POST", "/v1/workflows", triggerWorkflow(tc.data)), http.StatusBadRequest, tc.code)
			for _, w := range tc.words {
				require.Contains(t, m["message"], w)
			}
		})
	}
	// Reference clients: triggerId alone (or nothing) still starts by API.
	for _, data := range []map[string]any{{"triggerId": "webhook"}, {"triggerId": "manual"}, {"triggerType": ""}, nil} {
		h.expect(h.do("POST", "/v1/workflows", triggerWorkflow(data)), http.StatusCreated, "")
	}

	// Unknown node types are refused naming the node; so is an unknown
	// catalog executor (a 400 now: it is a reference in the body).
	body := workflowBody([]map[string]any{triggerNode("t"), {"id": "odd", "type": "notifier"}}, nil)
	m := h.expect(h.do("POST", "/v1/workflows", body), http.StatusBadRequest, "FLK-0121")
	require.Contains(t, m["message"], `node "odd"`)
	body = workflowBody([]map[string]any{triggerNode("t"), {"id": "call", "type": "executor",
		"data": map[string]any{"executorId": "tracer.nope", "providerConfigId": uuid.NewString()}}}, nil)
	m = h.expect(h.do("POST", "/v1/workflows", body), http.StatusBadRequest, "FLK-0104")
	require.Contains(t, m["message"], `node "call"`)
	require.Contains(t, m["message"], "executorId")
	// Action types other than set_output are kept, as the reference keeps
	// them (no effect; its clients send them): a documented choice.
	body = workflowBody([]map[string]any{triggerNode("t"),
		{"id": "note", "type": "action", "data": map[string]any{"actionType": "notify"}}}, nil)
	h.expect(h.do("POST", "/v1/workflows", body), http.StatusCreated, "")

	// A node condition has the edges' length limit.
	condition := func(n int) string { return `workflow.a == "` + strings.Repeat("x", n-16) + `"` }
	body = workflowBody([]map[string]any{triggerNode("t"), condNode("check", condition(501))}, nil)
	m = h.expect(h.do("POST", "/v1/workflows", body), http.StatusBadRequest, "FLK-0125")
	require.Contains(t, m["message"], `node "check"`)
	body = workflowBody([]map[string]any{triggerNode("t"), condNode("check", condition(500))}, nil)
	h.expect(h.do("POST", "/v1/workflows", body), http.StatusCreated, "")

	// An empty graph is a draft like any other; it cannot be activated.
	id := h.expect(h.do("POST", "/v1/workflows", map[string]any{"name": "empty"}), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusUnprocessableEntity, "FLK-0112")
}

func TestStrictReferencesAndRequiredFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const pcPath = "/v1/provider-configurations"
	for _, tc := range []struct {
		name string
		body any
		code string
		word string
	}{
		{"empty body", `{}`, "FLK-0297", "providerId is required"},
		{"unknown provider", map[string]any{"name": "x", "providerId": "stripe", "config": map[string]any{"a": 1}},
			"FLK-0294", `providerId: provider not found in catalog: "stripe"`},
		{"no name", map[string]any{"providerId": "http", "config": map[string]any{"base_url": "https://x.example"}},
			"FLK-0295", "name is required"},
		{"no config", map[string]any{"name": "x", "providerId": "http"}, "FLK-0298", "config"},
	} {
		m := h.expect(h.do("POST", pcPath, tc.body), http.StatusBadRequest, tc.code)
		require.Contains(t, m["message"], tc.word, tc.name)
	}
	// Templates: templateId is a reference in the body as well.
	m := h.expect(h.do("POST", "/v1/workflows/from-template", `{"templateId": "nope", "params": {}}`),
		http.StatusBadRequest, "FLK-0240")
	require.Contains(t, m["message"], "templateId")
	h.expect(h.do("POST", "/v1/workflows/from-template", `{}`), http.StatusBadRequest, "FLK-0240")
	// A provider configuration a node names that does not exist: 400 FLK-0150.
	body := workflowBody([]map[string]any{triggerNode("t"), callNodeFor(uuid.NewString(), "call", "/x")}, nil)
	m = h.expect(h.do("POST", "/v1/workflows", body), http.StatusBadRequest, "FLK-0150")
	require.Contains(t, m["message"], `node "call"`)
}

func TestStrictURLSchemes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const pcPath = "/v1/provider-configurations"
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"ftp base_url", tracerBody("t1", "ftp://tracer.example", "key-123456"), "config.base_url"},
		{"file base_url", httpProviderBody("file:///etc/passwd"), "config.base_url"},
		{"no host", httpProviderBody("https:///path"), "config.base_url"},
		{"midaz", midazBody("m1", "gopher://ledger.example", nil), "config.onboarding_base_url"},
		{"token_url in auth", map[string]any{"name": "h1", "providerId": "http", "config": map[string]any{
			"base_url": "https://x.example", "auth": map[string]any{"type": "oauth2_client_credentials",
				"token_url": "file:///token", "client_id": "a", "client_secret": "b"}}}, "config.auth.token_url"},
	} {
		m := h.expect(h.do("POST", pcPath, tc.body), http.StatusBadRequest, "FLK-0263")
		require.Contains(t, m["message"], tc.field, tc.name)
	}
	// A header named like a URL is a header value, not a URL.
	ok := httpProviderBody("https://x.example")
	ok["config"].(map[string]any)["headers"] = map[string]any{"X-Callback_Url": "not a url"}
	pc := h.createProvider(ok)
	m := h.expect(h.do("PATCH", pcPath+"/"+pc, map[string]any{"config": map[string]any{"base_url": "ftp://x.example"}}),
		http.StatusBadRequest, "FLK-0263")
	require.Contains(t, m["message"], "config.base_url")

	for _, tc := range []struct{ base, field string }{
		{"ftp://exec.example", "baseUrl"}, {"file:///etc/passwd", "baseUrl"},
	} {
		m := h.expect(h.do("POST", "/v1/executors", executorBody("e-"+uuid.NewString()[:6], tc.base, "none", nil)),
			http.StatusBadRequest, "FLK-0263")
		require.Contains(t, m["message"], tc.field)
	}
	// Its authentication URLs were already checked (FLK-0266, naming the field).
	body := executorBody("e-oauth", "https://exec.example", "oauth2_client_credentials", map[string]any{
		"token_url": "file:///token", "client_id": "a", "client_secret": "b"})
	m = h.expect(h.do("POST", "/v1/executors", body), http.StatusBadRequest, "FLK-0266")
	require.Contains(t, m["message"], "token_url")
	id := h.createExecutor(executorBody("e-ok", "https://exec.example", "none", nil))
	m = h.expect(h.do("PATCH", "/v1/executors/"+id, executorBody("e-ok", "ftp://exec.example", "none", nil)),
		http.StatusBadRequest, "FLK-0263")
	require.Contains(t, m["message"], "baseUrl")
}

func TestStrictUnknownFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	wf := h.activate([]map[string]any{triggerNode("t"), outputNode("out", map[string]any{"ok": true})},
		[]map[string]any{edge("t", "out")})
	start := "/v1/workflows/" + wf + "/executions"
	// A misspelt field must not run a transaction with an empty input.
	for _, body := range []string{`{"input": {"amount": 10}}`, `{"inputData": {}, "dryRun": true}`} {
		m := h.expect(h.do("POST", start, body, "Idempotency-Key", uuid.NewString()), http.StatusBadRequest, "FLK-0001")
		require.Contains(t, m["message"], "unknown field")
		require.Contains(t, m["message"], "inputData")
	}
	m := h.expect(h.do("POST", start, `{"input": {}}`, "Idempotency-Key", uuid.NewString()), http.StatusBadRequest, "FLK-0001")
	require.Contains(t, m["message"], `"input"`)
	require.Empty(t, h.expect(h.do("GET", "/v1/executions?workflowId="+wf, nil), http.StatusOK, "")["items"])
	// Accepted as the reference accepts them: {}, null, a differently cased name.
	for _, body := range []string{`{}`, `null`, `{"inputData": null}`, `{"InputData": {"a": 1}}`} {
		h.expect(h.do("POST", start, body, "Idempotency-Key", uuid.NewString()), http.StatusCreated, "")
	}
	// Other routes ignore unknown fields, as the reference does.
	body := linear("extra-fields")
	body["colour"] = "blue"
	h.expect(h.do("POST", "/v1/workflows", body), http.StatusCreated, "")
	pc := httpProviderBody("https://x.example")
	pc["owner"] = "risk"
	h.expect(h.do("POST", "/v1/provider-configurations", pc), http.StatusCreated, "")
}
