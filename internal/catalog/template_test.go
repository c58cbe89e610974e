package catalog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

func tracerMidaz(t *testing.T) *Template {
	t.Helper()
	tpl, ok := Default().Template("tracer-midaz-validation")
	require.True(t, ok)
	return tpl
}

func params(kv ...any) map[string]any {
	p := map[string]any{"workflowName": "Compliance flow", "tracerProviderConfigId": uuid1, "midazProviderConfigId": uuid2}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(p, kv[i].(string))
			continue
		}
		p[kv[i].(string)] = kv[i+1]
	}
	return p
}

func TestTemplateEntry(t *testing.T) {
	t.Parallel()
	tpl := tracerMidaz(t)
	require.Equal(t, "Tracer Validation + Midaz Transaction", tpl.Name)
	require.Equal(t, "Receives a webhook request, validates the transaction via Tracer, and creates a transaction in Midaz if approved",
		tpl.Description)
	require.Equal(t, "v1", tpl.Version)
	require.Equal(t, "Compliance", tpl.Category)
	require.Equal(t, []ProviderParam{
		{Param: "tracerProviderConfigId", ProviderID: "tracer"},
		{Param: "midazProviderConfigId", ProviderID: "midaz"},
	}, tpl.ProviderParams)
}

func TestTemplateValidateParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		params    map[string]any
		path, msg string
	}{
		{"minimal", params(), "-", ""},
		{"everything", params("workflowDescription", "d", "webhookPath", "/hooks/tx", "webhookMethod", "POST"), "-", ""},
		{"nil", nil, "", "missing properties 'workflowName', 'tracerProviderConfigId', 'midazProviderConfigId'"},
		{"missing workflowName", params("workflowName", nil), "", "missing property 'workflowName'"},
		{"empty workflowName", params("workflowName", ""), "/workflowName", "minLength"},
		{"long workflowName", params("workflowName", strings.Repeat("n", 101)), "/workflowName", "maxLength"},
		{"long description", params("workflowDescription", strings.Repeat("d", 501)), "/workflowDescription", "maxLength"},
		{"bad tracer uuid", params("tracerProviderConfigId", "tracer-1"), "/tracerProviderConfigId", "'tracer-1' is not valid 'uuid'"},
		{"bad midaz uuid", params("midazProviderConfigId", "1234"), "/midazProviderConfigId", "'1234' is not valid 'uuid'"},
		{"webhookMethod GET", params("webhookMethod", "GET"), "/webhookMethod", "value must be 'POST'"},
		{"webhookPath not string", params("webhookPath", 3.0), "/webhookPath", "got number, want string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			check(t, tracerMidaz(t).ValidateParams(tc.params), tc.path, tc.msg)
		})
	}
}

func TestTemplateBuild(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		params                      map[string]any
		wantPath, wantMethod, wantD string
	}{
		{"defaults", params(), "/validate-and-transact", "POST", ""},
		{"empty path takes the default", params("webhookPath", ""), "/validate-and-transact", "POST", ""},
		{"custom path and description", params("webhookPath", "/hooks/tx", "workflowDescription", "desc"), "/hooks/tx", "POST", "desc"},
		{"leading slash added", params("webhookPath", "hooks/tx"), "/hooks/tx", "POST", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tpl := tracerMidaz(t)
			require.NoError(t, tpl.ValidateParams(tc.params))
			in, err := json.Marshal(tc.params)
			require.NoError(t, err)

			def, err := tpl.Build(tc.params)
			require.NoError(t, err)
			require.NoError(t, flow.ValidateForActivation(&def))

			out, err := json.Marshal(tc.params)
			require.NoError(t, err)
			require.JSONEq(t, string(in), string(out), "Build does not modify params")

			require.Equal(t, "Compliance flow", def.Name)
			require.Equal(t, tc.wantD, def.Description)
			require.Equal(t, map[string]any{"templateId": "tracer-midaz-validation", "templateVersion": "v1"}, def.Metadata)

			require.Len(t, def.Nodes, 4)
			trigger, tracer, decision, midaz := def.Nodes[0], def.Nodes[1], def.Nodes[2], def.Nodes[3]
			require.Equal(t, flow.Node{ID: "webhook-trigger", Type: flow.NodeTrigger, Name: "Webhook Trigger",
				Position: trigger.Position,
				Data:     map[string]any{"triggerType": "webhook", "path": tc.wantPath, "method": tc.wantMethod}}, trigger)
			require.Equal(t, flow.Node{ID: "tracer-validate", Type: flow.NodeExecutor, Name: "Tracer Validate Transaction",
				Position: tracer.Position,
				Data: map[string]any{
					"executorId": "tracer.validate-transaction", "providerConfigId": uuid1,
					"method": "POST", "path": "/v1/validations",
					"inputMapping": []any{
						map[string]any{"source": "workflow.requestId", "target": "requestId"},
						map[string]any{"source": "workflow.transactionType", "target": "transactionType"},
						map[string]any{"source": "workflow.amount", "target": "amount"},
						map[string]any{"source": "workflow.currency", "target": "currency"},
						map[string]any{"source": "workflow.transactionTimestamp", "target": "transactionTimestamp"},
						map[string]any{"source": "workflow.account", "target": "account"},
					},
				}}, tracer)
			require.Equal(t, flow.Node{ID: "decision-check", Type: flow.NodeConditional, Name: "Decision Check",
				Position: decision.Position,
				Data:     map[string]any{"condition": `tracer-validate.body.decision == "ALLOW"`}}, decision)
			require.Equal(t, flow.Node{ID: "midaz-create-tx", Type: flow.NodeExecutor, Name: "Midaz Create Transaction",
				Position: midaz.Position,
				Data: map[string]any{
					"executorId": "midaz.create-transaction", "providerConfigId": uuid2,
					"inputMapping": []any{
						map[string]any{"source": "workflow.transaction", "target": "send"},
						map[string]any{"source": "workflow.transactionDescription", "target": "description"},
					},
				}}, midaz)
			require.Equal(t, []flow.Edge{
				{ID: "webhook-to-tracer", Source: "webhook-trigger", Target: "tracer-validate"},
				{ID: "tracer-to-decision", Source: "tracer-validate", Target: "decision-check"},
				{ID: "decision-to-midaz", Source: "decision-check", Target: "midaz-create-tx", SourceHandle: "true", Label: "Approved"},
			}, def.Edges)

			// Nodes are laid out top to bottom without overlapping.
			for i := 1; i < len(def.Nodes); i++ {
				require.Greater(t, def.Nodes[i].Position.Y, def.Nodes[i-1].Position.Y)
			}

			// Node data is already in encoding/json's shape: a JSON round trip changes nothing.
			for _, n := range def.Nodes {
				b, err := json.Marshal(n.Data)
				require.NoError(t, err)
				var back map[string]any
				require.NoError(t, json.Unmarshal(b, &back))
				require.Equal(t, n.Data, back, n.ID)
			}

			// The trigger data (minus triggerType) satisfies the webhook trigger schema,
			// and the executor ids are in the catalog.
			webhook, _ := Default().Trigger("webhook")
			data := map[string]any{}
			for k, v := range trigger.Data {
				if k != "triggerType" {
					data[k] = v
				}
			}
			require.NoError(t, webhook.ValidateData(data))
			for _, n := range []flow.Node{tracer, midaz} {
				_, ok := Default().Executor(n.Data["executorId"].(string))
				require.True(t, ok)
			}
		})
	}
}

func TestTemplateBuildErrors(t *testing.T) {
	t.Parallel()
	_, err := tracerMidaz(t).Build(params("midazProviderConfigId", nil))
	check(t, err, "", "missing property 'midazProviderConfigId'")
	_, err = tracerMidaz(t).Build(nil)
	check(t, err, "", "missing property 'workflowName'")
	_, err = (&Template{ID: "hand", ParamSchema: json.RawMessage(`{}`)}).Build(params())
	require.ErrorContains(t, err, "no builder")
}

func TestTemplateEnrichedSchema(t *testing.T) {
	t.Parallel()
	const uuid3 = "9b2e3c2a-8a0e-4f8e-9d6b-3c1f0e5a7b11"
	tests := []struct {
		name       string
		choices    map[string][]Choice
		wantTracer any // the oneOf of tracerProviderConfigId; nil = absent
		wantMidaz  any
	}{
		{
			name: "choices and empty list",
			choices: map[string][]Choice{
				"tracer": {{ID: uuid1, Name: "Tracer prod"}, {ID: uuid3, Name: "Tracer & sandbox"}},
				"midaz":  {},
			},
			wantTracer: []any{
				map[string]any{"const": uuid1, "title": "Tracer prod"},
				map[string]any{"const": uuid3, "title": "Tracer & sandbox"},
			},
			wantMidaz: []any{},
		},
		{
			name:       "nil list is an empty list",
			choices:    map[string][]Choice{"tracer": nil, "midaz": {{ID: uuid2, Name: "Ledger"}}},
			wantTracer: []any{},
			wantMidaz:  []any{map[string]any{"const": uuid2, "title": "Ledger"}},
		},
		{
			name:      "absent provider left unenriched",
			choices:   map[string][]Choice{"midaz": {}},
			wantMidaz: []any{},
		},
		{
			name:    "nil map enriches nothing",
			choices: nil,
		},
		{
			name: "parameter name key wins",
			choices: map[string][]Choice{
				"tracer":                 {{ID: uuid1, Name: "by provider"}},
				"tracerProviderConfigId": {{ID: uuid3, Name: "by param"}},
			},
			wantTracer: []any{map[string]any{"const": uuid3, "title": "by param"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tpl := tracerMidaz(t)
			s, err := tpl.EnrichedSchema(tc.choices)
			require.NoError(t, err)

			require.NotContains(t, s, "\n")
			require.NotContains(t, s, ": ")
			require.True(t, strings.HasPrefix(s, `{"$schema":`), "keys sorted: $schema first")
			var doc map[string]any
			require.NoError(t, json.Unmarshal([]byte(s), &doc))
			again, err := json.Marshal(doc)
			require.NoError(t, err)
			require.Equal(t, string(again), s, "compact, alphabetically ordered keys")

			props := doc["properties"].(map[string]any)
			require.Equal(t, tc.wantTracer, props["tracerProviderConfigId"].(map[string]any)["oneOf"])
			require.Equal(t, tc.wantMidaz, props["midazProviderConfigId"].(map[string]any)["oneOf"])
			require.Equal(t, "uuid", props["tracerProviderConfigId"].(map[string]any)["format"], "rest of the schema kept")
			require.Equal(t, []any{"workflowName", "tracerProviderConfigId", "midazProviderConfigId"}, doc["required"])

			// Apart from oneOf, the enriched schema is the original one.
			delete(props["tracerProviderConfigId"].(map[string]any), "oneOf")
			delete(props["midazProviderConfigId"].(map[string]any), "oneOf")
			stripped, err := json.Marshal(doc)
			require.NoError(t, err)
			require.JSONEq(t, string(tpl.ParamSchema), string(stripped))
		})
	}
}

func TestEnrichedSchemaStillValidates(t *testing.T) {
	t.Parallel()
	const uuid3 = "9b2e3c2a-8a0e-4f8e-9d6b-3c1f0e5a7b11"
	s, err := tracerMidaz(t).EnrichedSchema(map[string][]Choice{
		"tracer": {{ID: uuid1, Name: "Tracer prod"}},
		"midaz":  {{ID: uuid2, Name: "Midaz prod"}, {ID: uuid3, Name: "Midaz test"}},
	})
	require.NoError(t, err)
	_, err = compileNow(json.RawMessage(s))
	require.NoError(t, err, "a valid draft 2020-12 schema")

	enriched := &Template{ParamSchema: json.RawMessage(s)}
	require.NoError(t, enriched.ValidateParams(params()))
	require.NoError(t, enriched.ValidateParams(params("midazProviderConfigId", uuid3)))
	check(t, enriched.ValidateParams(params("tracerProviderConfigId", uuid3)), "/tracerProviderConfigId",
		"does not match any of the allowed alternatives")
}

func TestEnrichedSchemaUnparsable(t *testing.T) {
	t.Parallel()
	tpl := &Template{ID: "broken", ParamSchema: json.RawMessage(`{"properties": `)}
	s, err := tpl.EnrichedSchema(map[string][]Choice{"tracer": {}})
	require.Error(t, err)
	require.Equal(t, `{"properties": `, s, "raw text returned")
}
