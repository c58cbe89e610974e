package httpapi_test

// The reference scenario (reference/flowker-ops.md §8.3, "Full flow with
// KYC/AML mocks"), written the way a client of the reference writes it: raw
// JSON bodies, Tracer provider configurations whose base_url points at the
// KYC and AML services, executor nodes that pick the endpoint with
// endpointName, a webhook trigger that carries triggerId, and polling for
// results. Nothing here uses a Flowker-only feature (no ?wait, no
// Idempotency-Key on webhooks), so it runs as a reference client would.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// kycAMLWorkflow is the workflow a reference client posts. {{kyc}} and
// {{aml}} are replaced by provider configuration ids.
const kycAMLWorkflow = `{
  "name": "customer-onboarding-kyc-aml",
  "description": "KYC, then AML screening for low-risk customers",
  "nodes": [
    {"id": "webhook-trigger", "type": "trigger", "name": "Onboarding Webhook", "position": {"x": 0, "y": 0},
     "data": {"triggerId": "webhook", "triggerType": "webhook", "path": "/onboarding/kyc-aml", "method": "POST"}},
    {"id": "kyc-check", "type": "executor", "name": "KYC Check", "position": {"x": 200, "y": 0},
     "data": {
       "executorId": "tracer.validate-transaction",
       "providerConfigId": "{{kyc}}",
       "endpointName": "validate",
       "method": "POST",
       "timeout": 10,
       "inputMapping": [
         {"source": "workflow.customer.cpf", "target": "document", "required": true,
          "transformation": {"type": "remove_characters", "config": {"characters": ".-"}}},
         {"source": "workflow.customer.name", "target": "fullName",
          "transformation": {"type": "to_uppercase", "config": {}}},
         {"source": "workflow.customer.country", "target": "country"}
       ],
       "outputMapping": [
         {"source": "body.riskScore", "target": "riskScore"},
         {"source": "body.status", "target": "kycStatus"}
       ]
     }},
    {"id": "risk-decision", "type": "conditional", "name": "Risk Decision", "position": {"x": 400, "y": 0},
     "data": {"condition": "kyc-check.riskScore < 50"}},
    {"id": "aml-check", "type": "executor", "name": "AML Screening", "position": {"x": 600, "y": -100},
     "data": {
       "executorId": "tracer.validate-transaction",
       "providerConfigId": "{{aml}}",
       "endpointName": "screen",
       "transforms": [
         {"operation": "shift", "spec": {"subject.document": "workflow.customer.cpf", "subject.name": "workflow.customer.name"}},
         {"operation": "remove_characters", "spec": {"path": "subject.document", "characters": ".-"}}
       ],
       "outputMapping": [{"source": "body.status", "target": "amlStatus"}]
     }},
    {"id": "approve", "type": "action", "name": "Approve", "position": {"x": 800, "y": -100},
     "data": {"actionType": "set_output", "output": {"decision": "approved", "reason": "low risk, AML clear"}}},
    {"id": "reject", "type": "action", "name": "Reject", "position": {"x": 600, "y": 100},
     "data": {"actionType": "set_output", "output": {"decision": "rejected", "reason": "high risk"}}}
  ],
  "edges": [
    {"id": "e1", "source": "webhook-trigger", "target": "kyc-check"},
    {"id": "e2", "source": "kyc-check", "target": "risk-decision"},
    {"id": "e3", "source": "risk-decision", "target": "aml-check", "sourceHandle": "true", "label": "Low risk"},
    {"id": "e4", "source": "aml-check", "target": "approve"},
    {"id": "e5", "source": "risk-decision", "target": "reject", "sourceHandle": "false", "label": "High risk"}
  ],
  "metadata": {"team": "onboarding"}
}`

const (
	kycPath = "/v1/kyc/validate" // base_url …/v1/kyc + endpointName validate
	amlPath = "/v1/aml/screen"   // base_url …/v1/aml + endpointName screen
)

// kycAMLFake answers KYC by document (low risk for 12345678900, high
// otherwise) and AML with "clear".
func kycAMLFake(t *testing.T) *providertest.Server {
	t.Helper()
	fake := providertest.New(t)
	fake.HandleFunc(kycPath, func(r providertest.Request) providertest.Response {
		var in map[string]any
		_ = json.Unmarshal(r.Body, &in)
		score := 85
		if in["document"] == "12345678900" {
			score = 20
		}
		return okJSON(map[string]any{"riskScore": score, "status": "verified", "document": in["document"]})
	})
	fake.Respond(amlPath, okJSON(map[string]any{"status": "clear", "hits": []any{}}))
	return fake
}

func TestCompatReferenceScenario(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := kycAMLFake(t)

	// The catalog a reference client reads to build its editor.
	require.Subset(t, ids(list(t, h.do("GET", "/v1/catalog/providers", nil))), []string{"midaz", "tracer"})
	exec := h.expect(h.do("GET", "/v1/catalog/executors/tracer.validate-transaction", nil), http.StatusOK, "")
	require.IsType(t, "", exec["schema"], "schemas are JSON text in a string")
	trig := h.expect(h.do("GET", "/v1/catalog/triggers/webhook", nil), http.StatusOK, "")
	require.IsType(t, "", trig["schema"])

	// Provider configurations: KYC and AML services behind the Tracer provider.
	kyc := h.expect(h.do("POST", "/v1/provider-configurations", `{"name": "kyc-service", "providerId": "tracer",
		"description": "KYC provider", "config": {"base_url": "`+fake.URL+`/v1/kyc", "api_key": "kyc-key-0001"}}`),
		http.StatusCreated, "")
	require.Equal(t, "active", kyc["status"])
	aml := h.expect(h.do("POST", "/v1/provider-configurations", `{"name": "aml-service", "providerId": "tracer",
		"config": {"base_url": "`+fake.URL+`/v1/aml", "api_key": "aml-key-0002"}}`), http.StatusCreated, "")
	kycID, amlID := kyc["id"].(string), aml["id"].(string)

	// The workflow, exactly as written; created as a draft, then activated.
	body := strings.NewReplacer("{{kyc}}", kycID, "{{aml}}", amlID).Replace(kycAMLWorkflow)
	created := h.expect(h.do("POST", "/v1/workflows", body), http.StatusCreated, "")
	require.Equal(t, "draft", created["status"])
	wfID := created["workflowId"].(string)
	wf := h.expect(h.do("GET", "/v1/workflows/"+wfID, nil), http.StatusOK, "")
	trigger := wf["nodes"].([]any)[0].(map[string]any)["data"].(map[string]any)
	require.Equal(t, "webhook", trigger["triggerId"], "node data is kept as sent")
	active := h.expect(h.do("POST", "/v1/workflows/"+wfID+"/activate", nil), http.StatusOK, "")
	require.Equal(t, "active", active["status"])

	// By API: a low-risk customer goes through AML and is approved.
	low := `{"inputData": {"customer": {"cpf": "123.456.789-00", "name": "Maria Silva", "country": "BR"}}}`
	r := h.do("POST", "/v1/workflows/"+wfID+"/executions", low, "Idempotency-Key", "onboarding-0001")
	started := h.expect(r, http.StatusCreated, "")
	require.Equal(t, wfID, started["workflowId"])
	require.Contains(t, []any{"pending", "running"}, started["status"])
	require.Contains(t, started, "startedAt")
	res := h.await(started["executionId"].(string), "completed")
	require.Equal(t, map[string]any{"decision": "approved", "reason": "low risk, AML clear"}, res["finalOutput"])
	require.Equal(t, map[string]string{"kyc-check": "completed", "risk-decision": "completed",
		"aml-check": "completed", "approve": "completed", "reject": "skipped"}, statuses(t, res))
	require.Equal(t, map[string]any{"riskScore": 20.0, "kycStatus": "verified"}, step(t, res, "kyc-check")["output"],
		"outputMapping reads body.*")
	require.Equal(t, map[string]any{"condition": "kyc-check.riskScore < 50", "result": true, "branchTaken": "true"},
		step(t, res, "risk-decision")["output"])
	require.Equal(t, map[string]any{"amlStatus": "clear"}, step(t, res, "aml-check")["output"])

	// What the providers received: endpointName chose the URL; the mappings
	// and transforms built the bodies; the key went in X-API-Key.
	kycCalls := fake.RequestsTo(kycPath)
	require.Len(t, kycCalls, 1, "calls: %v", fakePaths(fake))
	require.Equal(t, "POST", kycCalls[0].Method)
	require.Equal(t, "kyc-key-0001", kycCalls[0].Header.Get("X-API-Key"))
	require.JSONEq(t, `{"document": "12345678900", "fullName": "MARIA SILVA", "country": "BR"}`, string(kycCalls[0].Body))
	amlCalls := fake.RequestsTo(amlPath)
	require.Len(t, amlCalls, 1)
	require.JSONEq(t, `{"subject": {"document": "12345678900", "name": "Maria Silva"}}`, string(amlCalls[0].Body))

	// Replaying the same key returns the same execution (finished: 200).
	again := h.expect(h.do("POST", "/v1/workflows/"+wfID+"/executions", low, "Idempotency-Key", "onboarding-0001"),
		http.StatusOK, "")
	require.Equal(t, started["executionId"], again["executionId"])

	// A high-risk customer is rejected; AML is never called.
	high := `{"inputData": {"customer": {"cpf": "987.654.321-00", "name": "John Doe", "country": "US"}}}`
	started = h.expect(h.do("POST", "/v1/workflows/"+wfID+"/executions", high, "Idempotency-Key", "onboarding-0002"),
		http.StatusCreated, "")
	res = h.await(started["executionId"].(string), "completed")
	require.Equal(t, map[string]any{"decision": "rejected", "reason": "high risk"}, res["finalOutput"])
	require.Equal(t, "false", step(t, res, "risk-decision")["output"].(map[string]any)["branchTaken"])
	require.Equal(t, "completed", step(t, res, "reject")["status"])
	require.Len(t, fake.RequestsTo(amlPath), 1, "AML is not called on the rejection branch")
	require.Len(t, fake.RequestsTo(kycPath), 2)

	// By webhook: 201, the execution ids in headers, and the provider sees the call.
	r = h.do("POST", "/v1/webhooks/onboarding/kyc-aml",
		`{"customer": {"cpf": "123.456.789-00", "name": "Ana Souza", "country": "BR"}}`)
	hooked := h.expect(r, http.StatusCreated, "")
	require.Equal(t, wfID, r.header.Get("X-Webhook-Workflow-ID"))
	require.Equal(t, hooked["executionId"], r.header.Get("X-Webhook-Execution-ID"))
	require.Equal(t, wfID, hooked["workflowId"])
	res = h.await(hooked["executionId"].(string), "completed")
	require.Equal(t, "approved", res["finalOutput"].(map[string]any)["decision"])
	kycCalls = fake.RequestsTo(kycPath)
	require.Len(t, kycCalls, 3)
	require.JSONEq(t, `{"document": "12345678900", "fullName": "ANA SOUZA", "country": "BR"}`, string(kycCalls[2].Body))
	require.Len(t, fake.RequestsTo(amlPath), 2)

	// Listing this workflow's executions shows the three runs.
	list := h.expect(h.do("GET", "/v1/executions?workflowId="+wfID, nil), http.StatusOK, "")
	require.Len(t, items(t, list), 3)
	require.Equal(t, false, list["hasMore"])

	// Cleanup as the reference client does it: deactivate (the webhook is
	// gone), delete the inactive workflow, delete the configurations.
	inactive := h.expect(h.do("POST", "/v1/workflows/"+wfID+"/deactivate", nil), http.StatusOK, "")
	require.Equal(t, "inactive", inactive["status"])
	require.Equal(t, wfID, inactive["id"])
	h.expect(h.do("POST", "/v1/webhooks/onboarding/kyc-aml", `{"customer": {}}`), http.StatusNotFound, "FLK-0361")
	h.expect(h.do("POST", "/v1/workflows/"+wfID+"/executions", low, "Idempotency-Key", "onboarding-0003"),
		http.StatusUnprocessableEntity, "FLK-0501")
	del := h.do("DELETE", "/v1/workflows/"+wfID, nil)
	require.Equal(t, http.StatusNoContent, del.status)
	require.Empty(t, del.body)
	h.expect(h.do("GET", "/v1/workflows/"+wfID, nil), http.StatusNotFound, "FLK-0100")
	for _, id := range []string{kycID, amlID} {
		del = h.do("DELETE", "/v1/provider-configurations/"+id, nil)
		require.Equal(t, http.StatusNoContent, del.status, string(del.body))
		h.expect(h.do("GET", "/v1/provider-configurations/"+id, nil), http.StatusNotFound, "FLK-0290")
	}
	// Executions outlive their workflow, as in the reference.
	h.expect(h.do("GET", "/v1/executions/"+hooked["executionId"].(string), nil), http.StatusOK, "")
}

func fakePaths(fake *providertest.Server) []string {
	var out []string
	for _, r := range fake.Requests() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
