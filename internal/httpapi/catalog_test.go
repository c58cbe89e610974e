package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// list decodes a JSON array body of objects.
func list(t *testing.T, r response) []map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var out []map[string]any
	require.NoError(t, json.Unmarshal(r.body, &out), string(r.body))
	return out
}

func ids(ms []map[string]any) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i], _ = m["id"].(string)
	}
	return out
}

// schemaOf parses a schema sent, as the reference does, as JSON text in a string.
func schemaOf(t *testing.T, m map[string]any, field string) map[string]any {
	t.Helper()
	raw, ok := m[field].(string)
	require.True(t, ok, "%s is a string: %v", field, m[field])
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &out), raw)
	return out
}

func TestCatalogExecutors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	all := list(t, h.do("GET", "/v1/catalog/executors", nil))
	require.Equal(t, []string{"http.request", "midaz.create-account", "midaz.create-transaction", "midaz.get-account",
		"midaz.get-account-balance", "tracer.list-validations", "tracer.validate-transaction"}, ids(all))
	for _, e := range all {
		require.Equal(t, "v1", e["version"])
		require.NotContains(t, e, "schema", "summaries carry no schema")
	}
	require.Equal(t, map[string]any{"id": "tracer.validate-transaction", "name": "Validate Transaction",
		"category": "Tracer", "version": "v1", "providerId": "tracer"}, all[6])

	got := h.expect(h.do("GET", "/v1/catalog/executors/midaz.get-account", nil), http.StatusOK, "")
	require.Equal(t, "Get Account", got["name"])
	require.Equal(t, "Midaz", got["category"])
	schema := schemaOf(t, got, "schema")
	require.Equal(t, []any{"accountId"}, schema["required"])
	h.expect(h.do("GET", "/v1/catalog/executors/nope", nil), http.StatusNotFound, "FLK-0200")

	valid := "/v1/catalog/executors/midaz.get-account/validate"
	require.Equal(t, map[string]any{"valid": true}, h.expect(h.do("POST", valid,
		map[string]any{"config": map[string]any{"accountId": orgID}}), http.StatusOK, ""))
	// format is asserted: a non-UUID accountId fails, with the path in the message.
	m := h.expect(h.do("POST", valid, map[string]any{"config": map[string]any{"accountId": "acc-1"}}),
		http.StatusBadRequest, "FLK-0201")
	require.Contains(t, m["message"], "midaz.get-account")
	require.Contains(t, m["message"], "/accountId")
	// A missing config is an empty object: the required field is missing.
	h.expect(h.do("POST", valid, `{}`), http.StatusBadRequest, "FLK-0201")
	h.expect(h.do("POST", "/v1/catalog/executors/tracer.list-validations/validate",
		map[string]any{"config": map[string]any{"uiOnly": true}}), http.StatusBadRequest, "FLK-0201")
	h.expect(h.do("POST", "/v1/catalog/executors/tracer.list-validations/validate",
		map[string]any{"config": map[string]any{"decision": "ALLOW", "limit": 10}}), http.StatusOK, "")
	h.expect(h.do("POST", valid, `{"config":`), http.StatusBadRequest, "FLK-0001")
	// An unknown executor is 404 before the body is read.
	h.expect(h.do("POST", "/v1/catalog/executors/nope/validate", `{"config":`), http.StatusNotFound, "FLK-0200")
}

func TestCatalogTriggersAndProviders(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	require.Equal(t, []map[string]any{{"id": "webhook", "name": "Webhook", "version": "v1"}},
		list(t, h.do("GET", "/v1/catalog/triggers", nil)))
	hook := h.expect(h.do("GET", "/v1/catalog/triggers/webhook", nil), http.StatusOK, "")
	require.Equal(t, false, schemaOf(t, hook, "schema")["additionalProperties"])
	h.expect(h.do("GET", "/v1/catalog/triggers/cron", nil), http.StatusNotFound, "FLK-0210")

	providers := list(t, h.do("GET", "/v1/catalog/providers", nil))
	require.Equal(t, []string{"http", "midaz", "tracer"}, ids(providers))
	for _, p := range providers {
		require.NotEmpty(t, p["description"])
		require.Equal(t, "v1", p["version"])
		require.NotContains(t, p, "configSchema")
	}
	tracer := h.expect(h.do("GET", "/v1/catalog/providers/tracer", nil), http.StatusOK, "")
	require.Equal(t, "Tracer", tracer["name"])
	require.ElementsMatch(t, []any{"base_url", "api_key"}, schemaOf(t, tracer, "configSchema")["required"])
	h.expect(h.do("GET", "/v1/catalog/providers/stripe", nil), http.StatusNotFound, "FLK-0230")

	for id, want := range map[string][]string{
		"tracer": {"tracer.list-validations", "tracer.validate-transaction"},
		"midaz":  {"midaz.create-account", "midaz.create-transaction", "midaz.get-account", "midaz.get-account-balance"},
		"http":   {"http.request"},
	} {
		require.Equal(t, want, ids(list(t, h.do("GET", "/v1/catalog/providers/"+id+"/executors", nil))), id)
	}
	h.expect(h.do("GET", "/v1/catalog/providers/stripe/executors", nil), http.StatusNotFound, "FLK-0230")
}

const templateID = "tracer-midaz-validation"

// oneOf returns the choices offered for a template parameter.
func oneOf(t *testing.T, schema map[string]any, param string) []any {
	t.Helper()
	prop := schema["properties"].(map[string]any)[param].(map[string]any)
	choices, ok := prop["oneOf"].([]any)
	require.True(t, ok, "%s has oneOf: %v", param, prop)
	return choices
}

func TestCatalogTemplates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	templates := list(t, h.do("GET", "/v1/catalog/templates", nil))
	require.Len(t, templates, 2)
	require.Equal(t, "kyc-aml-review", templates[0]["id"])
	require.Equal(t, map[string]any{"id": templateID, "name": "Tracer Validation + Midaz Transaction",
		"description": "Receives a webhook request, validates the transaction via Tracer, and creates a transaction in Midaz if approved",
		"version":     "v1", "category": "Compliance"}, templates[1])

	// No configurations yet: empty choices.
	tpl := h.expect(h.do("GET", "/v1/catalog/templates/"+templateID, nil), http.StatusOK, "")
	require.Equal(t, "Compliance", tpl["category"])
	schema := schemaOf(t, tpl, "paramSchema")
	require.Empty(t, oneOf(t, schema, "tracerProviderConfigId"))
	require.Empty(t, oneOf(t, schema, "midazProviderConfigId"))
	require.ElementsMatch(t, []any{"workflowName", "tracerProviderConfigId", "midazProviderConfigId"}, schema["required"])

	// Only active configurations of each provider are offered, by name.
	b := h.createProvider(tracerBody("tracer-b", "https://tracer.example.com", "key-00001"))
	a := h.createProvider(tracerBody("tracer-a", "https://tracer.example.com", "key-00002"))
	off := h.createProvider(tracerBody("tracer-off", "https://tracer.example.com", "key-00003"))
	h.expect(h.do("POST", pcPath+"/"+off+"/disable", nil), http.StatusOK, "")
	mid := h.createProvider(midazBody("midaz", "https://midaz.example.com", nil))
	schema = schemaOf(t, h.expect(h.do("GET", "/v1/catalog/templates/"+templateID, nil), http.StatusOK, ""), "paramSchema")
	require.Equal(t, []any{
		map[string]any{"const": a, "title": "tracer-a"}, map[string]any{"const": b, "title": "tracer-b"},
	}, oneOf(t, schema, "tracerProviderConfigId"))
	require.Equal(t, []any{map[string]any{"const": mid, "title": "midaz"}}, oneOf(t, schema, "midazProviderConfigId"))

	// Enabling it offers it again.
	h.expect(h.do("POST", pcPath+"/"+off+"/enable", nil), http.StatusOK, "")
	schema = schemaOf(t, h.expect(h.do("GET", "/v1/catalog/templates/"+templateID, nil), http.StatusOK, ""), "paramSchema")
	require.Len(t, oneOf(t, schema, "tracerProviderConfigId"), 3)

	h.expect(h.do("GET", "/v1/catalog/templates/nope", nil), http.StatusNotFound, "FLK-0240")

	// Validate: 200, 400 with the failing parameter, 404 before the body.
	vpath := "/v1/catalog/templates/" + templateID + "/validate"
	params := map[string]any{"workflowName": "wf", "tracerProviderConfigId": a, "midazProviderConfigId": mid}
	require.Equal(t, map[string]any{"valid": true}, h.expect(h.do("POST", vpath, map[string]any{"params": params}), http.StatusOK, ""))
	params["midazProviderConfigId"] = "not-a-uuid"
	m := h.expect(h.do("POST", vpath, map[string]any{"params": params}), http.StatusBadRequest, "FLK-0242")
	require.Contains(t, m["message"], "/midazProviderConfigId")
	require.Contains(t, m["message"], templateID)
	h.expect(h.do("POST", vpath, `{}`), http.StatusBadRequest, "FLK-0242")
	h.expect(h.do("POST", vpath, map[string]any{"params": map[string]any{"workflowName": "wf", "tracerProviderConfigId": a,
		"midazProviderConfigId": mid, "webhookMethod": "GET"}}), http.StatusBadRequest, "FLK-0242")
	h.expect(h.do("POST", vpath, `{"params":`), http.StatusBadRequest, "FLK-0001")
	h.expect(h.do("POST", "/v1/catalog/templates/nope/validate", `{"params":`), http.StatusNotFound, "FLK-0240")
}
