package httpapi_test

// Compatibility: the catalog, dashboards, audit, legacy executor
// configurations, operational routes, authentication and routing
// conventions (reference/flowker-api.md §0, §1.3, §2, §4.5–4.9, §8;
// reference/flowker-ops.md §3).

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestCompatCatalog(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	// The reference's executors, with its names, categories and providers.
	byID := map[string]map[string]any{}
	for _, e := range list(t, h.do("GET", "/v1/catalog/executors", nil)) {
		byID[e["id"].(string)] = e
	}
	for _, want := range []struct{ id, name, category, provider string }{
		{"midaz.create-account", "Create Account", "Midaz", "midaz"},
		{"midaz.create-transaction", "Create Transaction", "Midaz", "midaz"},
		{"midaz.get-account", "Get Account", "Midaz", "midaz"},
		{"midaz.get-account-balance", "Get Account Balance", "Midaz", "midaz"},
		{"tracer.list-validations", "List Validations", "Tracer", "tracer"},
		{"tracer.validate-transaction", "Validate Transaction", "Tracer", "tracer"},
	} {
		require.Equal(t, map[string]any{"id": want.id, "name": want.name, "category": want.category, "version": "v1",
			"providerId": want.provider}, byID[want.id])
		got := h.expect(h.do("GET", "/v1/catalog/executors/"+want.id, nil), http.StatusOK, "")
		schemaOf(t, got, "schema")
	}
	providers := list(t, h.do("GET", "/v1/catalog/providers", nil))
	require.Subset(t, ids(providers), []string{"midaz", "tracer"})
	for p, n := range map[string]int{"midaz": 4, "tracer": 2} {
		got := h.expect(h.do("GET", "/v1/catalog/providers/"+p, nil), http.StatusOK, "")
		requireKeys(t, got, "id", "name", "description", "version", "configSchema")
		schemaOf(t, got, "configSchema")
		require.Len(t, list(t, h.do("GET", "/v1/catalog/providers/"+p+"/executors", nil)), n)
	}
	require.Equal(t, []map[string]any{{"id": "webhook", "name": "Webhook", "version": "v1"}},
		list(t, h.do("GET", "/v1/catalog/triggers", nil)))
	hook := schemaOf(t, h.expect(h.do("GET", "/v1/catalog/triggers/webhook", nil), http.StatusOK, ""), "schema")
	require.ElementsMatch(t, []any{"path", "method"}, hook["required"])
	templates := list(t, h.do("GET", "/v1/catalog/templates", nil))
	// The reference's one template, as it lists it (ours adds kyc-aml-review: additive).
	require.Contains(t, templates, map[string]any{"id": "tracer-midaz-validation", "name": "Tracer Validation + Midaz Transaction",
		"version": "v1", "category": "Compliance",
		"description": "Receives a webhook request, validates the transaction via Tracer, and creates a transaction in Midaz if approved"})

	// Template detail: tracerProviderConfigId lists the active Tracer configurations.
	pc := h.createProvider(tracerBody("tracer-catalog", "https://tracer.example.com", "tr-key-abcd1234"))
	tmpl := h.expect(h.do("GET", "/v1/catalog/templates/tracer-midaz-validation", nil), http.StatusOK, "")
	params := schemaOf(t, tmpl, "paramSchema")["properties"].(map[string]any)
	require.Equal(t, []any{map[string]any{"const": pc, "title": "tracer-catalog"}},
		params["tracerProviderConfigId"].(map[string]any)["oneOf"])
	require.Equal(t, []any{}, params["midazProviderConfigId"].(map[string]any)["oneOf"])

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"executor validate ok", "POST", "/v1/catalog/executors/tracer.list-validations/validate", `{"config": {"limit": 10}}`, 200, ""},
		{"executor validate without config", "POST", "/v1/catalog/executors/tracer.list-validations/validate", `{}`, 200, ""},
		{"executor validate fails", "POST", "/v1/catalog/executors/tracer.list-validations/validate", `{"config": {"limit": 0}}`, 400, "FLK-0201"},
		{"executor validate not json", "POST", "/v1/catalog/executors/tracer.list-validations/validate", `{"config":`, 400, "FLK-0001"},
		{"executor validate unknown, before the body", "POST", "/v1/catalog/executors/nope/validate", `{"config":`, 404, "FLK-0200"},
		{"unknown executor", "GET", "/v1/catalog/executors/nope", nil, 404, "FLK-0200"},
		{"unknown trigger", "GET", "/v1/catalog/triggers/cron", nil, 404, "FLK-0210"},
		{"unknown provider", "GET", "/v1/catalog/providers/nope", nil, 404, "FLK-0230"},
		{"unknown provider's executors", "GET", "/v1/catalog/providers/nope/executors", nil, 404, "FLK-0230"},
		{"unknown template", "GET", "/v1/catalog/templates/nope", nil, 404, "FLK-0240"},
		{"template validate ok", "POST", "/v1/catalog/templates/tracer-midaz-validation/validate", map[string]any{"params": map[string]any{
			"workflowName": "x", "tracerProviderConfigId": pc, "midazProviderConfigId": uuid.NewString()}}, 200, ""},
		{"template validate fails", "POST", "/v1/catalog/templates/tracer-midaz-validation/validate", `{"params": {}}`, 400, "FLK-0242"},
		{"template validate unknown, before the body", "POST", "/v1/catalog/templates/nope/validate", `{"params":`, 404, "FLK-0240"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			m := h.expect(h.do(tc.method, tc.path, tc.body), tc.status, tc.code)
			if tc.status == http.StatusOK {
				require.Equal(t, map[string]any{"valid": true}, m)
			}
		})
	}
}

func TestCompatDashboardsAndAudit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	empty := h.expect(h.do("GET", "/v1/dashboards/workflows/summary", nil), http.StatusOK, "")
	require.Equal(t, map[string]any{"total": 0.0, "active": 0.0, "byStatus": []any{}}, empty)

	id := h.expect(h.do("POST", "/v1/workflows", linear("compat-dash")), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")
	h.await(h.startAsync(id, map[string]any{}), "completed")

	sum := h.expect(h.do("GET", "/v1/dashboards/workflows/summary", nil), http.StatusOK, "")
	require.Equal(t, 1.0, sum["total"])
	require.Equal(t, 1.0, sum["active"])
	require.Equal(t, []any{map[string]any{"status": "active", "count": 1.0}}, sum["byStatus"])
	ex := h.expect(h.do("GET", "/v1/dashboards/executions?startTime=2000-01-01T00:00:00Z&endTime=2100-01-01T00:00:00Z", nil),
		http.StatusOK, "")
	requireKeys(t, ex, "total", "completed", "failed", "pending", "running")
	require.Equal(t, 1.0, ex["completed"])
	for _, q := range []string{"startTime=yesterday", "endTime=x", "startTime=2026-02-01T00:00:00Z&endTime=2026-01-01T00:00:00Z", "status=done"} {
		h.expect(h.do("GET", "/v1/dashboards/executions?"+q, nil), http.StatusBadRequest, "FLK-0302")
	}

	// Audit: the list envelope, the entry shape, get and verify.
	list := h.expect(h.do("GET", "/v1/audit-events?eventType=WORKFLOW_CREATED&resourceType=workflow&sortOrder=ASC", nil), http.StatusOK, "")
	requireKeys(t, list, "items", "nextCursor", "hasMore")
	entries := items(t, list)
	require.Len(t, entries, 1)
	e := entries[0]
	requireKeys(t, e, "eventId", "eventType", "action", "result", "resourceId", "resourceType", "actor", "metadata", "timestamp", "hash")
	require.Equal(t, "CREATE", e["action"])
	require.Equal(t, "SUCCESS", e["result"])
	require.Equal(t, id, e["resourceId"])
	require.Equal(t, map[string]any{"workflow.name": "compat-dash"}, e["metadata"])
	requireKeys(t, e["actor"].(map[string]any), "type", "id", "ipAddress")
	got := h.expect(h.do("GET", "/v1/audit-events/"+e["eventId"].(string), nil), http.StatusOK, "")
	require.Equal(t, e["hash"], got["hash"])
	// The reference failed every verify (its defect D7); here the chain verifies.
	v := h.expect(h.do("GET", "/v1/audit-events/"+e["eventId"].(string)+"/verify", nil), http.StatusOK, "")
	require.Equal(t, true, v["isValid"])
	require.Equal(t, "hash chain is valid", v["message"])
	require.Contains(t, v, "totalChecked")
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v1/audit-events/nope", 400, "FLK-0002"},
		{"/v1/audit-events/" + uuid.NewString(), 404, "FLK-0600"},
		{"/v1/audit-events/" + uuid.NewString() + "/verify", 404, "FLK-0600"},
		{"/v1/audit-events?limit=x", 400, "FLK-0304"},
		{"/v1/audit-events?resourceId=nope", 400, "FLK-0002"},
		{"/v1/audit-events?dateFrom=yesterday", 400, "FLK-0305"},
		{"/v1/audit-events?dateFrom=2026-02-01T00:00:00Z&dateTo=2026-01-01T00:00:00Z", 400, "FLK-0308"},
	} {
		h.expect(h.do("GET", tc.path, nil), tc.status, tc.code)
	}
}

func TestCompatOperationsAndConventions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	health := h.expect(h.do("GET", "/health", nil), http.StatusOK, "")
	requireKeys(t, health, "status", "version", "uptime", "timestamp", "checks")
	require.Equal(t, "healthy", health["status"])
	require.Contains(t, health["checks"], "database")
	ready := h.expect(h.do("GET", "/readyz", nil), http.StatusOK, "")
	requireKeys(t, ready, "status", "checks", "version", "deployment_mode")
	require.Equal(t, "healthy", ready["status"])
	require.Equal(t, "local", ready["deployment_mode"])
	version := h.expect(h.do("GET", "/version", nil), http.StatusOK, "")
	requireKeys(t, version, "version", "requestDate")

	// Legacy executor configurations: read, update, delete routes and their errors.
	list := h.expect(h.do("GET", "/v1/executors", nil), http.StatusOK, "")
	require.Equal(t, map[string]any{"items": []any{}, "nextCursor": "", "hasMore": false}, list)
	unknown := "/v1/executors/" + uuid.NewString()
	h.expect(h.do("GET", unknown, nil), http.StatusNotFound, "FLK-0250")
	h.expect(h.do("DELETE", unknown, nil), http.StatusNotFound, "FLK-0250")
	h.expect(h.do("PATCH", unknown, executorBody("x", "https://x.example.com", "none", nil)), http.StatusNotFound, "FLK-0250")
	h.expect(h.do("GET", "/v1/executors/nope", nil), http.StatusBadRequest, "FLK-0002")

	// Paths are case-insensitive and a trailing slash is ignored.
	h.expect(h.do("GET", "/V1/Workflows", nil), http.StatusOK, "")
	h.expect(h.do("GET", "/v1/workflows/", nil), http.StatusOK, "")
	// Unknown JSON fields are ignored; a null body is an empty object.
	h.expect(h.do("POST", "/v1/workflows", `{"name": "compat-extra", "uiState": {"zoom": 2}}`), http.StatusCreated, "")
	h.expect(h.do("POST", "/v1/workflows", `null`), http.StatusBadRequest, "FLK-0110")
	// Every response carries X-Request-Id; a client's value is echoed.
	r := h.do("GET", "/v1/workflows", nil, "X-Request-Id", "compat-req-1")
	require.Equal(t, "compat-req-1", r.header.Get("X-Request-Id"))
	// Unknown route and wrong method: the standard error shape (the reference
	// used a numeric code and title request_failed; docs/decisions.md).
	h.expect(h.do("GET", "/v1/nope", nil), http.StatusNotFound, "FLK-0003")
	h.expect(h.do("PATCH", "/v1/workflows", nil), http.StatusMethodNotAllowed, "FLK-0004")

	// API-key mode: the reference's 401 body, byte for byte; health stays open.
	k := newHarness(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": "compat-key"})
	r = k.do("GET", "/v1/workflows", nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.JSONEq(t, `{"code":"UNAUTHORIZED","title":"Unauthorized","message":"API Key missing or invalid"}`, string(r.body))
	k.expect(k.do("GET", "/v1/workflows", nil, "X-API-Key", "compat-key"), http.StatusOK, "")
	k.expect(k.do("POST", "/v1/webhooks/nope", nil, "X-API-Key", "compat-key"), http.StatusNotFound, "FLK-0361")
	require.Equal(t, http.StatusUnauthorized, k.do("POST", "/v1/webhooks/nope", nil).status)
	k.expect(k.do("GET", "/health", nil), http.StatusOK, "")
	require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/json"))
}
