package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// templateSetup creates Tracer and Midaz configurations pointing at one
// fake, and an active workflow from the tracer-midaz-validation template.
func templateSetup(t *testing.T, h *harness, fake *providertest.Server) (workflowID, orgID, ledgerID string) {
	t.Helper()
	orgID, ledgerID = uuid.NewString(), uuid.NewString()
	tracer := h.expect(h.do("POST", "/v1/provider-configurations", map[string]any{
		"name": "tracer", "providerId": "tracer",
		"config": map[string]any{"base_url": fake.URL, "api_key": "tracer-key-1234"}}), http.StatusCreated, "")
	midaz := h.expect(h.do("POST", "/v1/provider-configurations", map[string]any{
		"name": "midaz", "providerId": "midaz",
		"config": map[string]any{"onboarding_base_url": fake.URL, "transaction_base_url": fake.URL,
			"organization_id": orgID, "ledger_id": ledgerID}}), http.StatusCreated, "")
	wf := h.expect(h.do("POST", "/v1/workflows/from-template", map[string]any{
		"templateId": "tracer-midaz-validation",
		"params": map[string]any{"workflowName": "validate-" + uuid.NewString()[:8],
			"tracerProviderConfigId": tracer["id"], "midazProviderConfigId": midaz["id"]}}), http.StatusCreated, "")
	workflowID = wf["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+workflowID+"/activate", nil), http.StatusOK, "")
	return workflowID, orgID, ledgerID
}

func transaction() map[string]any {
	return map[string]any{
		"requestId": uuid.NewString(), "transactionType": "PIX", "amount": "125.50", "currency": "BRL",
		"transactionTimestamp": "2026-11-24T10:00:00Z",
		"account":              map[string]any{"accountId": uuid.NewString(), "type": "checking", "status": "active"},
		"transaction":          map[string]any{"asset": "BRL", "value": "125.50"},
	}
}

func TestTemplateRunsEndToEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"SSRF_ALLOW_PRIVATE": "true"})
	fake := providertest.New(t)
	workflowID, org, ledger := templateSetup(t, h, fake)
	txPath := "/v1/organizations/" + org + "/ledgers/" + ledger + "/transactions/json"
	fake.Respond("/v1/validations", providertest.Response{Body: `{"decision":"ALLOW","validationId":"v-1"}`})
	fake.Respond(txPath, providertest.Response{Status: http.StatusCreated, Body: `{"id":"tx-1"}`})

	r := h.do("POST", "/v1/webhooks/validate-and-transact?wait=5s", transaction())
	res := h.expect(r, http.StatusOK, "")
	require.Equal(t, "completed", res["status"], string(r.body))
	require.Equal(t, workflowID, r.header.Get("X-Webhook-Workflow-ID"))
	steps := res["stepResults"].([]any)
	require.Len(t, steps, 3)
	for i, want := range []string{"tracer-validate", "decision-check", "midaz-create-tx"} {
		require.Equal(t, want, steps[i].(map[string]any)["nodeId"])
		require.Equal(t, "completed", steps[i].(map[string]any)["status"])
	}

	calls := fake.RequestsTo("/v1/validations")
	require.Len(t, calls, 1)
	require.Equal(t, "tracer-key-1234", calls[0].Header.Get("X-API-Key"))
	require.NotEmpty(t, calls[0].Header.Get("Idempotency-Key"))
	var sent map[string]any
	require.NoError(t, json.Unmarshal(calls[0].Body, &sent))
	require.Equal(t, "PIX", sent["transactionType"])
	require.NotContains(t, sent, "_webhook", "the whole context is never sent")
	require.NotContains(t, sent, "transaction")
	ledgerCalls := fake.RequestsTo(txPath)
	require.Len(t, ledgerCalls, 1)
	require.NoError(t, json.Unmarshal(ledgerCalls[0].Body, &sent))
	require.Equal(t, map[string]any{"asset": "BRL", "value": "125.50"}, sent["send"])

	// DENY: the false branch has no edge, so the ledger is skipped and never called.
	fake.Respond("/v1/validations", providertest.Response{Body: `{"decision":"DENY"}`})
	res = h.expect(h.do("POST", "/v1/webhooks/validate-and-transact?wait=5s", transaction()), http.StatusOK, "")
	require.Equal(t, "completed", res["status"])
	steps = res["stepResults"].([]any)
	require.Len(t, steps, 3)
	require.Equal(t, "skipped", steps[2].(map[string]any)["status"])
	require.Len(t, fake.RequestsTo(txPath), 1)
}

// TestWebhookTokenIsSecret: a trigger's verify_token is masked in every
// response, kept when the masked value is sent back, and still checked.
func TestWebhookTokenIsSecret(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	body := linear("hooked")
	trigger := body["nodes"].([]map[string]any)[0]
	trigger["data"] = map[string]any{"triggerType": "webhook", "path": "/hooked", "method": "POST",
		"verify_token": "hook-secret-9876"}
	id := h.expect(h.do("POST", "/v1/workflows", body), http.StatusCreated, "")["workflowId"].(string)

	got := h.expect(h.do("GET", "/v1/workflows/"+id, nil), http.StatusOK, "")
	data := got["nodes"].([]any)[0].(map[string]any)["data"].(map[string]any)
	require.Equal(t, "****9876", data["verify_token"])

	// Send back what was read: the stored token is kept.
	body["description"] = "edited"
	trigger["data"].(map[string]any)["verify_token"] = "****9876"
	h.expect(h.do("PUT", "/v1/workflows/"+id, body), http.StatusOK, "")
	h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")

	h.expect(h.do("POST", "/v1/webhooks/hooked", map[string]any{}), http.StatusUnauthorized, "FLK-0362")
	h.expect(h.do("POST", "/v1/webhooks/hooked", map[string]any{}, "X-Webhook-Token", "****9876"),
		http.StatusUnauthorized, "FLK-0362")
	r := h.do("POST", "/v1/webhooks/hooked?wait=5s", map[string]any{"a": 1}, "X-Webhook-Token", "hook-secret-9876")
	res := h.expect(r, http.StatusOK, "")
	require.Equal(t, "completed", res["status"])
	h.expect(h.do("POST", "/v1/webhooks/unknown", map[string]any{}), http.StatusNotFound, "FLK-0361")
}
