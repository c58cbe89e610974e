// Package catalog is the static registry of providers, executors, triggers
// and templates. It is built in code, so it is the same on every replica and
// never changes while the process runs.
//
// Every JSON Schema is draft 2020-12 and is compiled with format assertions
// on: unlike the reference, "uuid", "uri", "date-time" and "email" are
// really checked. Values are validated as encoding/json decodes them
// (map[string]any, []any, float64, string, bool, nil).
//
// Everything returned by a *Catalog is shared: callers must not modify it.
package catalog

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
)

// Provider is an external system that workflows call through executors.
// A provider configuration (stored elsewhere) holds the config for one
// instance of it and is validated against ConfigSchema.
type Provider struct {
	ID          string
	Name        string
	Description string
	Version     string
	// ConfigSchema is a draft 2020-12 JSON Schema, pretty-printed.
	ConfigSchema json.RawMessage
}

// ValidateConfig checks a provider configuration against ConfigSchema.
// A nil map validates as an empty object. It returns nil or a
// *ValidationError (any other error means the schema itself is broken).
func (p *Provider) ValidateConfig(cfg map[string]any) error {
	return validate(p.ConfigSchema, cfg)
}

// SecretKeys lists, sorted and without duplicates, the property names marked
// "writeOnly": true anywhere in ConfigSchema (e.g. api_key, client_secret,
// password, token). internal/secret reads the same marking, place by
// place, to seal and mask (secret.SchemaPolicy).
func (p *Provider) SecretKeys() []string {
	return secretKeys(p.ConfigSchema)
}

// Executor is one operation of a provider that a workflow node can run.
type Executor struct {
	ID         string
	Name       string
	Category   string // the provider's display name
	Version    string
	ProviderID string
	// Schema is the draft 2020-12 JSON Schema of the node data, pretty-printed.
	Schema json.RawMessage

	// How the engine calls it.

	// Method is the HTTP method, e.g. "POST".
	Method string
	// BaseURLKey is the provider-config key that holds the base URL:
	// "base_url", "onboarding_base_url" or "transaction_base_url".
	BaseURLKey string
	// Path is a path template, e.g.
	// "/v1/organizations/{organization_id}/ledgers/{ledger_id}/accounts/{accountId}";
	// the engine resolves the placeholders. Empty for http.request, whose
	// node data carries the path.
	Path string
}

// ValidateData checks node data against Schema. Callers strip the
// engine-internal keys first (executorId, providerConfigId, inputMapping,
// method, path, ...). A nil map validates as an empty object. It returns nil
// or a *ValidationError.
func (e *Executor) ValidateData(data map[string]any) error {
	return validate(e.Schema, data)
}

// Trigger is a way to start a workflow.
type Trigger struct {
	ID      string
	Name    string
	Version string
	// Schema is the draft 2020-12 JSON Schema of the trigger node data,
	// pretty-printed.
	Schema json.RawMessage
}

// ValidateData checks trigger node data against Schema.
//
// Workflow trigger nodes also carry "triggerType" (e.g. "webhook") in their
// data, which selects this trigger; the webhook schema forbids additional
// properties, so callers strip "triggerType" before validating.
// A nil map validates as an empty object. It returns nil or a
// *ValidationError.
func (t *Trigger) ValidateData(data map[string]any) error {
	return validate(t.Schema, data)
}

// SecretKeys lists the property names marked "writeOnly" in Schema (e.g.
// verify_token), sorted.
func (t *Trigger) SecretKeys() []string {
	return secretKeys(t.Schema)
}

// Catalog is the registry. The zero value is empty; use Default.
type Catalog struct {
	providers []*Provider // sorted by ID
	executors []*Executor // sorted by ID
	triggers  []*Trigger  // sorted by ID
	templates []*Template // sorted by ID
}

// Default returns the built-in catalog. It is built once, with every schema
// compiled, and shared, so calling it repeatedly is cheap. A built-in schema
// that does not compile is a programming error and panics on first use (the
// tests compile them all).
func Default() *Catalog { return defaultCatalog() }

var defaultCatalog = sync.OnceValue(func() *Catalog {
	c := builtin()
	for _, s := range c.schemas() {
		if _, err := compile(s.schema); err != nil {
			panic(fmt.Sprintf("catalog: built-in schema %s does not compile: %v", s.name, err))
		}
	}
	return c
})

// Providers returns every provider, sorted by ID.
func (c *Catalog) Providers() []*Provider { return slices.Clone(c.providers) }

// Provider looks a provider up by ID.
func (c *Catalog) Provider(id string) (*Provider, bool) {
	return find(c.providers, id, func(p *Provider) string { return p.ID })
}

// Executors returns every executor, sorted by ID.
func (c *Catalog) Executors() []*Executor { return slices.Clone(c.executors) }

// Executor looks an executor up by ID.
func (c *Catalog) Executor(id string) (*Executor, bool) {
	return find(c.executors, id, func(e *Executor) string { return e.ID })
}

// ProviderExecutors returns the executors of one provider, sorted by ID
// (empty, not nil, when there are none).
func (c *Catalog) ProviderExecutors(providerID string) []*Executor {
	out := []*Executor{}
	for _, e := range c.executors {
		if e.ProviderID == providerID {
			out = append(out, e)
		}
	}
	return out
}

// Triggers returns every trigger, sorted by ID.
func (c *Catalog) Triggers() []*Trigger { return slices.Clone(c.triggers) }

// Trigger looks a trigger up by ID.
func (c *Catalog) Trigger(id string) (*Trigger, bool) {
	return find(c.triggers, id, func(t *Trigger) string { return t.ID })
}

// Templates returns every template, sorted by ID.
func (c *Catalog) Templates() []*Template { return slices.Clone(c.templates) }

// Template looks a template up by ID.
func (c *Catalog) Template(id string) (*Template, bool) {
	return find(c.templates, id, func(t *Template) string { return t.ID })
}

func find[T any](items []*T, id string, key func(*T) string) (*T, bool) {
	i, ok := slices.BinarySearchFunc(items, id, func(it *T, id string) int { return strings.Compare(key(it), id) })
	if !ok {
		return nil, false
	}
	return items[i], true
}

type namedSchema struct {
	name   string
	schema json.RawMessage
}

// schemas lists every schema of c, for eager compilation and tests.
func (c *Catalog) schemas() []namedSchema {
	var out []namedSchema
	for _, p := range c.providers {
		out = append(out, namedSchema{"provider " + p.ID, p.ConfigSchema})
	}
	for _, e := range c.executors {
		out = append(out, namedSchema{"executor " + e.ID, e.Schema})
	}
	for _, t := range c.triggers {
		out = append(out, namedSchema{"trigger " + t.ID, t.Schema})
	}
	for _, t := range c.templates {
		out = append(out, namedSchema{"template " + t.ID, t.ParamSchema})
	}
	return out
}

//go:embed schemas
var schemaFS embed.FS

// schemaFile reads an embedded schema; a missing file is a programming error.
func schemaFile(name string) json.RawMessage {
	b, err := schemaFS.ReadFile(path.Join("schemas", name))
	if err != nil {
		panic("catalog: " + err.Error())
	}
	return json.RawMessage(strings.TrimSpace(string(b)))
}

// Provider IDs and the display names that are also their executors' category.
const (
	providerTracer = "tracer"
	providerMidaz  = "midaz"
	providerHTTP   = "http"
)

// Midaz path templates; {organization_id} and {ledger_id} come from the
// provider configuration, {accountId} from the node data or the input.
const (
	midazLedgerPath = "/v1/organizations/{organization_id}/ledgers/{ledger_id}"
	midazAccount    = midazLedgerPath + "/accounts/{accountId}"
)

// builtin assembles the catalog contents.
func builtin() *Catalog {
	const v1 = "v1"
	providers := []*Provider{
		{ID: providerTracer, Name: "Tracer", Version: v1,
			Description:  "Lerian Tracer provider for transaction validation against compliance rules and financial limits",
			ConfigSchema: schemaFile("providers/tracer.json")},
		{ID: providerMidaz, Name: "Midaz", Version: v1,
			Description:  "Lerian Midaz core banking ledger provider for managing transactions, accounts, and balances",
			ConfigSchema: schemaFile("providers/midaz.json")},
		{ID: providerHTTP, Name: "HTTP", Version: v1,
			Description:  "Generic HTTP/JSON service",
			ConfigSchema: schemaFile("providers/http.json")},
	}
	names := map[string]string{}
	for _, p := range providers {
		names[p.ID] = p.Name
	}
	exec := func(id, name, provider, method, baseURLKey, path string) *Executor {
		return &Executor{ID: id, Name: name, Category: names[provider], Version: v1, ProviderID: provider,
			Schema: schemaFile("executors/" + id + ".json"), Method: method, BaseURLKey: baseURLKey, Path: path}
	}
	executors := []*Executor{
		exec("tracer.validate-transaction", "Validate Transaction", providerTracer, "POST", "base_url", "/v1/validations"),
		exec("tracer.list-validations", "List Validations", providerTracer, "GET", "base_url", "/v1/validations"),
		exec("midaz.create-transaction", "Create Transaction", providerMidaz,
			"POST", "transaction_base_url", midazLedgerPath+"/transactions/json"),
		exec("midaz.create-account", "Create Account", providerMidaz,
			"POST", "onboarding_base_url", midazLedgerPath+"/accounts"),
		exec("midaz.get-account", "Get Account", providerMidaz, "GET", "onboarding_base_url", midazAccount),
		exec("midaz.get-account-balance", "Get Account Balance", providerMidaz,
			"GET", "transaction_base_url", midazAccount+"/balances"),
		exec("http.request", "HTTP Request", providerHTTP, "POST", "base_url", ""),
	}
	triggers := []*Trigger{
		{ID: "webhook", Name: "Webhook", Version: v1, Schema: schemaFile("triggers/webhook.json")},
	}
	templates := []*Template{tracerMidazTemplate(), kycAMLReviewTemplate()}

	byID := func(a, b string) int { return strings.Compare(a, b) }
	slices.SortFunc(providers, func(a, b *Provider) int { return byID(a.ID, b.ID) })
	slices.SortFunc(executors, func(a, b *Executor) int { return byID(a.ID, b.ID) })
	slices.SortFunc(triggers, func(a, b *Trigger) int { return byID(a.ID, b.ID) })
	slices.SortFunc(templates, func(a, b *Template) int { return byID(a.ID, b.ID) })
	return &Catalog{providers: providers, executors: executors, triggers: triggers, templates: templates}
}
