package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"flowker/internal/flow"
)

// ProviderParam is a template parameter whose value names a provider
// configuration of provider ProviderID.
type ProviderParam struct {
	Param      string
	ProviderID string
}

// Choice is an active provider configuration offered as a parameter value.
type Choice struct {
	ID   string
	Name string
}

// Template is a blueprint that builds a workflow definition from parameters.
type Template struct {
	ID          string
	Name        string
	Description string
	Version     string
	Category    string
	// ParamSchema is the draft 2020-12 JSON Schema of the parameters,
	// pretty-printed.
	ParamSchema    json.RawMessage
	ProviderParams []ProviderParam

	build func(params map[string]any) (flow.Definition, error)
}

// ValidateParams checks template parameters against ParamSchema. A nil map
// validates as an empty object. It returns nil or a *ValidationError.
func (t *Template) ValidateParams(params map[string]any) error {
	return validate(t.ParamSchema, params)
}

// Build makes the workflow definition. params must already have passed
// ValidateParams; the schema's top-level defaults are applied first (to a
// parameter that is absent, null or, for a string default, empty). The
// result is a draft definition: the normal create-workflow checks still
// apply. A missing required parameter gives a *ValidationError.
func (t *Template) Build(params map[string]any) (flow.Definition, error) {
	if t.build == nil {
		return flow.Definition{}, fmt.Errorf("catalog: template %q has no builder", t.ID)
	}
	p, err := withDefaults(t.ParamSchema, params)
	if err != nil {
		return flow.Definition{}, err
	}
	return t.build(p)
}

// EnrichedSchema returns ParamSchema where the property of each
// ProviderParam gains "oneOf": [{"const": id, "title": name}, ...] listing
// the configurations offered for it, re-serialised compactly with
// alphabetically ordered keys.
//
// choices maps a provider ID to its active configurations, in the order to
// show them (the reference lists up to 100, by name); the caller's order is
// kept. An empty or nil list gives "oneOf": []. A parameter whose provider
// is not a key of choices (e.g. its lookup failed) is left unenriched. A key
// equal to the parameter name is also accepted and wins over the provider ID.
//
// If ParamSchema does not parse, the raw text is returned with the error.
func (t *Template) EnrichedSchema(choices map[string][]Choice) (string, error) {
	raw := string(t.ParamSchema)
	dec := json.NewDecoder(bytes.NewReader(t.ParamSchema))
	dec.UseNumber() // keep numbers exactly as written
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return raw, fmt.Errorf("catalog: template %q: parse param schema: %w", t.ID, err)
	}
	props, _ := doc["properties"].(map[string]any)
	for _, pp := range t.ProviderParams {
		list, ok := choices[pp.Param]
		if !ok {
			list, ok = choices[pp.ProviderID]
		}
		prop, isObject := props[pp.Param].(map[string]any)
		if !ok || !isObject {
			continue
		}
		oneOf := make([]any, 0, len(list))
		for _, c := range list {
			oneOf = append(oneOf, map[string]any{"const": c.ID, "title": c.Name})
		}
		prop["oneOf"] = oneOf
	}
	b, err := json.Marshal(doc) // map keys come out sorted
	if err != nil {
		return raw, fmt.Errorf("catalog: template %q: encode param schema: %w", t.ID, err)
	}
	return string(b), nil
}

// withDefaults returns a copy of params with the schema's top-level
// defaults filled in.
func withDefaults(schema json.RawMessage, params map[string]any) (map[string]any, error) {
	var doc struct {
		Properties map[string]struct {
			Default any `json:"default"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(schema, &doc); err != nil {
		return nil, fmt.Errorf("catalog: parse param schema: %w", err)
	}
	out := maps.Clone(params)
	if out == nil {
		out = map[string]any{}
	}
	for name, prop := range doc.Properties {
		if prop.Default == nil {
			continue
		}
		v, present := out[name]
		_, defIsString := prop.Default.(string)
		if !present || v == nil || defIsString && v == "" {
			out[name] = prop.Default
		}
	}
	return out, nil
}

// The tracer-midaz-validation template.
const (
	tracerMidazID      = "tracer-midaz-validation"
	tracerMidazVersion = "v1"
)

func tracerMidazTemplate() *Template {
	return &Template{
		ID:          tracerMidazID,
		Name:        "Tracer Validation + Midaz Transaction",
		Description: "Receives a webhook request, validates the transaction via Tracer, and creates a transaction in Midaz if approved",
		Version:     tracerMidazVersion,
		Category:    "Compliance",
		ParamSchema: schemaFile("templates/tracer-midaz-validation.json"),
		ProviderParams: []ProviderParam{
			{Param: "tracerProviderConfigId", ProviderID: providerTracer},
			{Param: "midazProviderConfigId", ProviderID: providerMidaz},
		},
		build: buildTracerMidaz,
	}
}

// buildTracerMidaz: webhook → Tracer validation → decision → (ALLOW) Midaz
// transaction. The false branch has no edge, so a DENY or REVIEW ends the
// execution as completed.
func buildTracerMidaz(p map[string]any) (flow.Definition, error) {
	name, err := requiredString(p, "workflowName")
	if err != nil {
		return flow.Definition{}, err
	}
	tracerConfig, err := requiredString(p, "tracerProviderConfigId")
	if err != nil {
		return flow.Definition{}, err
	}
	midazConfig, err := requiredString(p, "midazProviderConfigId")
	if err != nil {
		return flow.Definition{}, err
	}
	description, _ := p["workflowDescription"].(string)
	method, _ := p["webhookMethod"].(string)
	path, _ := p["webhookPath"].(string)
	if !strings.HasPrefix(path, "/") { // the webhook trigger schema wants a leading slash
		path = "/" + path
	}

	nodes := []flow.Node{
		{
			ID: "webhook-trigger", Type: flow.NodeTrigger, Name: "Webhook Trigger",
			Position: flow.Position{X: 250, Y: 0},
			Data:     map[string]any{"triggerType": "webhook", "path": path, "method": method},
		},
		{
			ID: "tracer-validate", Type: flow.NodeExecutor, Name: "Tracer Validate Transaction",
			Position: flow.Position{X: 250, Y: 150},
			Data: map[string]any{
				"executorId":       "tracer.validate-transaction",
				"providerConfigId": tracerConfig,
				"method":           "POST",
				"path":             "/v1/validations",
				"inputMapping": mappings(
					"workflow.requestId", "requestId",
					"workflow.transactionType", "transactionType",
					"workflow.amount", "amount",
					"workflow.currency", "currency",
					"workflow.transactionTimestamp", "transactionTimestamp",
					"workflow.account", "account",
				),
			},
		},
		{
			ID: "decision-check", Type: flow.NodeConditional, Name: "Decision Check",
			Position: flow.Position{X: 250, Y: 300},
			Data:     map[string]any{"condition": `tracer-validate.body.decision == "ALLOW"`},
		},
		{
			ID: "midaz-create-tx", Type: flow.NodeExecutor, Name: "Midaz Create Transaction",
			Position: flow.Position{X: 250, Y: 450},
			Data: map[string]any{
				"executorId":       "midaz.create-transaction",
				"providerConfigId": midazConfig,
				"inputMapping": mappings(
					"workflow.transaction", "send",
					"workflow.transactionDescription", "description",
				),
			},
		},
	}
	edges := []flow.Edge{
		{ID: "webhook-to-tracer", Source: "webhook-trigger", Target: "tracer-validate"},
		{ID: "tracer-to-decision", Source: "tracer-validate", Target: "decision-check"},
		{ID: "decision-to-midaz", Source: "decision-check", Target: "midaz-create-tx",
			SourceHandle: "true", Label: "Approved"},
	}
	return flow.Definition{
		Name:        name,
		Description: description,
		Nodes:       nodes,
		Edges:       edges,
		Metadata:    map[string]any{"templateId": tracerMidazID, "templateVersion": tracerMidazVersion},
	}, nil
}

// mappings turns source, target pairs into input-mapping entries, in the
// shape encoding/json decodes them.
func mappings(pairs ...string) []any {
	out := make([]any, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, map[string]any{"source": pairs[i], "target": pairs[i+1]})
	}
	return out
}

func requiredString(p map[string]any, name string) (string, error) {
	s, ok := p[name].(string)
	if !ok || s == "" {
		return "", &ValidationError{Message: "missing property " + quote(name)}
	}
	return s, nil
}
