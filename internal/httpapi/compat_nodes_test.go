package httpapi_test

// Compatibility: executor, conditional and action node data as the
// reference reads it (reference/flowker-engine.md §2.2, §2.5–2.8, §4.4,
// §4.5; reference/flowker-api.md §6.2). Each test saves a workflow written
// with the reference's keys, runs it against a fake provider and checks
// what the provider received and what the step recorded.

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/engine"
	"flowker/internal/provider/providertest"
)

// compatEnv is a harness, a fake provider, a Tracer configuration whose
// base_url is the fake's /v1/kyc, and a Midaz configuration on the fake.
type compatEnv struct {
	*harness
	fake          *providertest.Server
	tracer, midaz string
}

func newCompatEnv(t *testing.T, tune func(*engine.Options)) *compatEnv {
	t.Helper()
	h := newHarnessOpts(t, allowPrivate, tune)
	fake := providertest.New(t)
	return &compatEnv{harness: h, fake: fake,
		tracer: h.createProvider(tracerBody("kyc-"+uuid.NewString()[:8], fake.URL+"/v1/kyc", "kyc-key-1234")),
		midaz:  h.createProvider(midazBody("ledger-"+uuid.NewString()[:8], fake.URL, nil))}
}

func (e *compatEnv) with(t *testing.T) *compatEnv {
	c := *e
	c.harness = e.harness.with(t)
	return &c
}

// executorNode is an executor node with the given data (reference keys).
func executorNode(id string, data map[string]any) map[string]any {
	return map[string]any{"id": id, "type": "executor", "name": id, "position": map[string]any{"x": 100, "y": 0}, "data": data}
}

// runOne activates trigger → node, runs it by API with input and returns
// the results and the requests the fake received during the run.
func (e *compatEnv) runOne(node map[string]any, input map[string]any) (map[string]any, []providertest.Request) {
	e.t.Helper()
	before := len(e.fake.Requests())
	id := e.activate([]map[string]any{triggerNode("start"), node}, []map[string]any{edge("start", node["id"].(string))})
	r := e.start(id, "", input)
	res := e.finish(e.expect(r, http.StatusCreated, "")["executionId"].(string))
	return res, e.fake.Requests()[before:]
}

// finish polls an execution until it is terminal and returns its results.
func (h *harness) finish(id string) map[string]any {
	h.t.Helper()
	eventually(h.t, "execution "+id+" to finish", func() bool {
		s := h.expect(h.do("GET", "/v1/executions/"+id, nil), http.StatusOK, "")["status"]
		return s == "completed" || s == "failed"
	})
	return h.expect(h.do("GET", "/v1/executions/"+id+"/results", nil), http.StatusOK, "")
}

// TestCompatExecutorURL: the URL of a generic-builder executor (Tracer) is
// base_url joined with path, else endpointName, else base_url alone; Midaz
// executors call their route, whatever the node says (§4.4, §4.5).
func TestCompatExecutorURL(t *testing.T) {
	t.Parallel()
	e := newCompatEnv(t, nil)
	ledger := "/v1/organizations/" + orgID + "/ledgers/" + ledgerID
	tests := []struct {
		name         string
		data         map[string]any
		method, path string
	}{
		{"endpointName", map[string]any{"endpointName": "validate"}, "POST", "/v1/kyc/validate"},
		{"endpointName with a leading slash", map[string]any{"endpointName": "/validate"}, "POST", "/v1/kyc/validate"},
		{"path", map[string]any{"path": "/v1/validations"}, "POST", "/v1/kyc/v1/validations"},
		{"path wins over endpointName", map[string]any{"path": "check", "endpointName": "validate"}, "POST", "/v1/kyc/check"},
		// Neither: the reference calls base_url itself; so do we (docs/decisions.md).
		{"neither: base_url alone", map[string]any{}, "POST", "/v1/kyc"},
		{"method", map[string]any{"endpointName": "validate", "method": "PUT"}, "PUT", "/v1/kyc/validate"},
		{"midaz ignores path, endpointName and method", map[string]any{"executorId": "midaz.create-transaction",
			"providerConfigId": e.midaz, "endpointName": "create", "path": "/elsewhere", "method": "PUT"},
			"POST", ledger + "/transactions/json"},
		{"midaz path parameters from node data", map[string]any{"executorId": "midaz.get-account",
			"providerConfigId": e.midaz, "accountId": "5f0c9d3e-8a1b-4c2d-9e3f-4a5b6c7d8e9f"},
			"GET", ledger + "/accounts/5f0c9d3e-8a1b-4c2d-9e3f-4a5b6c7d8e9f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			data := map[string]any{"executorId": "tracer.validate-transaction", "providerConfigId": e.tracer}
			for k, v := range tc.data {
				data[k] = v
			}
			res, calls := e.runOne(executorNode("call", data), map[string]any{})
			require.Equal(t, "completed", res["status"], "%v", res)
			require.Len(t, calls, 1)
			require.Equal(t, tc.method+" "+tc.path, calls[0].Method+" "+calls[0].Path)
		})
	}
}

// TestCompatExecutorTimeout: node `timeout` (seconds) bounds each attempt
// and wins over the configuration's timeout_seconds (§1.9, §4.4).
func TestCompatExecutorTimeout(t *testing.T) {
	t.Parallel()
	e := newCompatEnv(t, func(o *engine.Options) { o.Retry.MaxAttempts = 1 })
	slow := e.createProvider(map[string]any{"name": "slow-kyc", "providerId": "tracer",
		"config": map[string]any{"base_url": e.fake.URL + "/v1/slow", "api_key": "slow-key-1234", "timeout_seconds": 1}})
	e.fake.Respond("/v1/slow/check", providertest.Response{Body: `{"ok": true}`, Delay: 1500 * time.Millisecond})
	node := func(extra map[string]any) map[string]any {
		data := map[string]any{"executorId": "tracer.validate-transaction", "providerConfigId": slow, "endpointName": "check"}
		for k, v := range extra {
			data[k] = v
		}
		return executorNode("call", data)
	}
	res, _ := e.runOne(node(nil), map[string]any{})
	require.Equal(t, "failed", res["status"], "timeout_seconds 1 < 1.5 s")
	res, _ = e.runOne(node(map[string]any{"timeout": 5}), map[string]any{})
	require.Equal(t, "completed", res["status"], "node timeout 5 wins: %v", res)
	res, _ = e.runOne(node(map[string]any{"timeout": 1}), map[string]any{})
	require.Equal(t, "failed", res["status"])
}

// TestCompatInputMapping: {source, target, required?, transformation?:
// {type, config}} items build the request body (§2.6, §2.7).
func TestCompatInputMapping(t *testing.T) {
	t.Parallel()
	e := newCompatEnv(t, nil)
	mapping := []any{
		map[string]any{"source": "workflow.customer.cpf", "target": "document", "required": true,
			"transformation": map[string]any{"type": "remove_characters", "config": map[string]any{"characters": ".-"}}},
		map[string]any{"source": "workflow.customer.name", "target": "customer.name",
			"transformation": map[string]any{"type": "to_uppercase"}},
		map[string]any{"source": "workflow.customer.email", "target": "customer.email",
			"transformation": map[string]any{"type": "to_lowercase", "config": map[string]any{}}},
		map[string]any{"source": "workflow.account", "target": "account",
			"transformation": map[string]any{"type": "add_prefix", "config": map[string]any{"prefix": "ACC-"}}},
		map[string]any{"source": "workflow.branch", "target": "branch",
			"transformation": map[string]any{"type": "add_suffix", "config": map[string]any{"suffix": "-BR"}}},
		map[string]any{"source": "workflow.items[0].id", "target": "firstItem"},
		map[string]any{"source": "workflow.items[*].id", "target": "itemIds"},
		map[string]any{"source": "workflow.amount", "target": "amount", "required": false},
		// A missing source that is not required becomes null, as in the reference.
		map[string]any{"source": "workflow.nickname", "target": "nickname"},
	}
	node := executorNode("kyc", map[string]any{"executorId": "tracer.validate-transaction", "providerConfigId": e.tracer,
		"endpointName": "validate", "inputMapping": mapping})
	input := map[string]any{
		"customer": map[string]any{"cpf": "123.456.789-00", "name": "Maria", "email": "Maria@Example.COM"},
		"account":  "0001",
		"branch":   "042",
		"amount":   125.5,
		"items":    []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}},
	}
	res, calls := e.runOne(node, input)
	require.Equal(t, "completed", res["status"], "%v", res)
	require.Len(t, calls, 1)
	require.JSONEq(t, `{"document": "12345678900", "customer": {"name": "MARIA", "email": "maria@example.com"},
		"account": "ACC-0001", "branch": "042-BR", "firstItem": "a", "itemIds": ["a", "b"], "amount": 125.5,
		"nickname": null}`, string(calls[0].Body))

	// The required source missing: the node fails and nothing is sent.
	// (The reference made every mapping of the list required as soon as one
	// was, its defect §9.13; here `required` is per field, so the missing
	// optional nickname above did not fail.)
	delete(input["customer"].(map[string]any), "cpf")
	res, calls = e.runOne(node, input)
	require.Equal(t, "failed", res["status"])
	require.Empty(t, calls)
	require.Contains(t, step(t, res, "kyc")["errorMessage"], "workflow.customer.cpf")
}

// TestCompatOutputMappingAndTransforms: outputMapping reads the response
// envelope (body.*, status); without it the envelope is the output; raw
// transforms build the body when there is no inputMapping, and are ignored
// when there is one (§2.4, §2.6, §2.7).
func TestCompatOutputMappingAndTransforms(t *testing.T) {
	t.Parallel()
	e := newCompatEnv(t, nil)
	e.fake.Respond("/v1/kyc/validate", okJSON(map[string]any{"riskScore": 20, "status": "verified",
		"checks": map[string]any{"pep": false}}))
	base := map[string]any{"executorId": "tracer.validate-transaction", "providerConfigId": e.tracer, "endpointName": "validate"}
	with := func(extra map[string]any) map[string]any {
		data := map[string]any{}
		for _, m := range []map[string]any{base, extra} {
			for k, v := range m {
				data[k] = v
			}
		}
		return executorNode("kyc", data)
	}
	input := map[string]any{"customer": map[string]any{"cpf": "123.456.789-00", "name": "Maria", "tier": ""}}

	res, _ := e.runOne(with(map[string]any{"outputMapping": []any{
		map[string]any{"source": "body.riskScore", "target": "riskScore"},
		map[string]any{"source": "body.checks.pep", "target": "flags.pep"},
		map[string]any{"source": "status", "target": "httpStatus"},
	}}), input)
	require.Equal(t, map[string]any{"riskScore": 20.0, "flags": map[string]any{"pep": false}, "httpStatus": 200.0},
		step(t, res, "kyc")["output"])

	res, _ = e.runOne(with(nil), input)
	out := step(t, res, "kyc")["output"].(map[string]any)
	require.Equal(t, 200.0, out["status"])
	require.Equal(t, "verified", out["body"].(map[string]any)["status"])
	require.Contains(t, out, "headers")

	transforms := []any{
		map[string]any{"operation": "shift", "spec": map[string]any{
			"document": "workflow.customer.cpf", "name": "workflow.customer.name", "tier": "workflow.customer.tier"}},
		map[string]any{"operation": "remove_characters", "spec": map[string]any{"path": "document", "characters": ".-"}},
		map[string]any{"operation": "to_uppercase", "spec": map[string]any{"path": "name"}},
		map[string]any{"operation": "default", "spec": map[string]any{"channel": "web"}},
		map[string]any{"operation": "concat", "spec": map[string]any{"sources": []any{
			map[string]any{"path": "name"}, map[string]any{"value": "BR"}}, "targetPath": "label", "delim": "/"}},
		map[string]any{"operation": "coalesce", "spec": map[string]any{"segment": []any{"tier", "channel"},
			"ignore": []any{""}}},
		map[string]any{"operation": "delete", "spec": map[string]any{"paths": []any{"tier"}}},
	}
	_, calls := e.runOne(with(map[string]any{"transforms": transforms}), input)
	require.Len(t, calls, 1)
	require.JSONEq(t, `{"document": "12345678900", "name": "MARIA", "channel": "web", "label": "MARIA/BR",
		"segment": "web"}`, string(calls[0].Body))

	// inputMapping present: transforms are ignored.
	_, calls = e.runOne(with(map[string]any{"transforms": transforms, "inputMapping": []any{
		map[string]any{"source": "workflow.customer.name", "target": "who"}}}), input)
	require.JSONEq(t, `{"who": "Maria"}`, string(calls[0].Body))
}

// TestCompatConditionAndAction: conditions in the reference's dialect and
// set_output actions (§2.8, §3).
func TestCompatConditionAndAction(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	cond := func(condition string) string {
		return h.activate([]map[string]any{triggerNode("start"), condNode("check", condition),
			outputNode("yes", map[string]any{"branch": "true"}), outputNode("no", map[string]any{"branch": "false"})},
			[]map[string]any{edge("start", "check"), edge("check", "yes", "true"), edge("check", "no", "false")})
	}
	input := map[string]any{"amount": 150, "status": "approved", "score": "80", "enabled": true, "name": "it's"}
	for _, tc := range []struct {
		condition string
		want      bool
	}{
		{`workflow.amount > 100`, true},
		{`workflow.amount >= 150 AND workflow.amount <= 150`, true},
		{`workflow.status == "approved"`, true},
		{`workflow.status == 'approved'`, true},
		{`workflow.status != "approved" OR workflow.amount < 10`, false},
		{`workflow.amount > 1 AND workflow.amount < 3 OR workflow.amount == 150`, true},
		{`workflow.enabled`, true},
		{`workflow.enabled == true`, true},
		{`workflow.amount>100`, true},
	} {
		t.Run(tc.condition, func(t *testing.T) {
			h := h.with(t)
			res := h.await(h.startAsync(cond(tc.condition), input), "completed")
			want := map[bool]string{true: "true", false: "false"}[tc.want]
			require.Equal(t, map[string]any{"condition": tc.condition, "result": tc.want, "branchTaken": want},
				step(t, res, "check")["output"])
			require.Equal(t, map[string]any{"branch": want}, res["finalOutput"])
		})
	}

	// Deliberate difference (docs/decisions.md; reference §9.12): the
	// reference compared numeric strings as numbers ("80" > 70); CEL does not
	// coerce, and the run fails naming the condition. Write double("80") > 70.0
	// or compare numbers.
	res := h.finish(h.startAsync(cond(`workflow.score > 70`), input))
	require.Equal(t, "failed", res["status"])
	require.Contains(t, res["errorMessage"], "workflow.score > 70")
	h.await(h.startAsync(cond(`double(workflow.score) > 70.0`), input), "completed")

	// A conditional without an edge for its result ends the branch: completed.
	id := h.activate([]map[string]any{triggerNode("start"), condNode("check", "workflow.amount > 1000"),
		outputNode("yes", map[string]any{"ok": true})},
		[]map[string]any{edge("start", "check"), edge("check", "yes", "true")})
	res = h.await(h.startAsync(id, input), "completed")
	require.Equal(t, "false", step(t, res, "check")["output"].(map[string]any)["branchTaken"])

	// An action other than set_output records a completed step whose output is its data.
	data := map[string]any{"actionType": "notify", "channel": "email"}
	id = h.activate([]map[string]any{triggerNode("start"), {"id": "note", "type": "action", "data": data}},
		[]map[string]any{edge("start", "note")})
	res = h.await(h.startAsync(id, input), "completed")
	require.Equal(t, "completed", step(t, res, "note")["status"])
	require.Equal(t, data, step(t, res, "note")["output"])
}
