package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"flowker/internal/catalog"
	"flowker/internal/flow"
)

// The catalog is static and the same on every replica. Schemas travel as
// JSON text inside a string field, as the reference sends them.
func (a *api) catalogRoutes(r fiber.Router) {
	r.Get("/catalog/executors", a.listCatalogExecutors)
	r.Get("/catalog/executors/:id", a.getCatalogExecutor)
	r.Post("/catalog/executors/:id/validate", a.validateCatalogExecutor)
	r.Get("/catalog/triggers", a.listTriggers)
	r.Get("/catalog/triggers/:id", a.getTrigger)
	r.Get("/catalog/providers", a.listProviders)
	r.Get("/catalog/providers/:id", a.getProvider)
	r.Get("/catalog/providers/:id/executors", a.listProviderExecutors)
	r.Get("/catalog/templates", a.listTemplates)
	r.Get("/catalog/templates/:id", a.getTemplate)
	r.Post("/catalog/templates/:id/validate", a.validateTemplate)
}

type executorSummary struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	Version    string `json:"version"`
	ProviderID string `json:"providerId,omitempty"`
	Schema     string `json:"schema,omitempty"`
}

func summarizeExecutors(list []*catalog.Executor) []executorSummary {
	out := make([]executorSummary, len(list))
	for i, e := range list {
		out[i] = executorSummary{ID: e.ID, Name: e.Name, Category: e.Category, Version: e.Version, ProviderID: e.ProviderID}
	}
	return out
}

func (a *api) catalogExecutor(c *fiber.Ctx) (*catalog.Executor, error) {
	e, ok := a.svc.Catalog().Executor(c.Params("id"))
	if !ok {
		return nil, flow.Errorf(flow.KindNotFound, "FLK-0200", "executor not found: %s", c.Params("id"))
	}
	return e, nil
}

func (a *api) listCatalogExecutors(c *fiber.Ctx) error {
	return c.JSON(summarizeExecutors(a.svc.Catalog().Executors()))
}

func (a *api) getCatalogExecutor(c *fiber.Ctx) error {
	e, err := a.catalogExecutor(c)
	if err != nil {
		return err
	}
	s := summarizeExecutors([]*catalog.Executor{e})[0]
	s.Schema = string(e.Schema)
	return c.JSON(s)
}

func (a *api) validateCatalogExecutor(c *fiber.Ctx) error {
	e, err := a.catalogExecutor(c) // unknown executor before the body, as the reference
	if err != nil {
		return err
	}
	var req struct {
		Config map[string]any `json:"config"`
	}
	if err := parseBody(c, &req); err != nil {
		return err
	}
	if err := e.ValidateData(req.Config); err != nil {
		return flow.Invalidf("FLK-0201", "invalid config for executor %s: %v", e.ID, err)
	}
	return c.JSON(fiber.Map{"valid": true})
}

func (a *api) listTriggers(c *fiber.Ctx) error {
	out := []fiber.Map{}
	for _, t := range a.svc.Catalog().Triggers() {
		out = append(out, fiber.Map{"id": t.ID, "name": t.Name, "version": t.Version})
	}
	return c.JSON(out)
}

func (a *api) getTrigger(c *fiber.Ctx) error {
	t, ok := a.svc.Catalog().Trigger(c.Params("id"))
	if !ok {
		return flow.Errorf(flow.KindNotFound, "FLK-0210", "trigger not found: %s", c.Params("id"))
	}
	return c.JSON(fiber.Map{"id": t.ID, "name": t.Name, "version": t.Version, "schema": string(t.Schema)})
}

func (a *api) catalogProvider(c *fiber.Ctx) (*catalog.Provider, error) {
	p, ok := a.svc.Catalog().Provider(c.Params("id"))
	if !ok {
		return nil, flow.Errorf(flow.KindNotFound, "FLK-0230", "provider not found: %s", c.Params("id"))
	}
	return p, nil
}

func (a *api) listProviders(c *fiber.Ctx) error {
	out := []fiber.Map{}
	for _, p := range a.svc.Catalog().Providers() {
		out = append(out, fiber.Map{"id": p.ID, "name": p.Name, "description": p.Description, "version": p.Version})
	}
	return c.JSON(out)
}

func (a *api) getProvider(c *fiber.Ctx) error {
	p, err := a.catalogProvider(c)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": p.ID, "name": p.Name, "description": p.Description, "version": p.Version,
		"configSchema": string(p.ConfigSchema)})
}

func (a *api) listProviderExecutors(c *fiber.Ctx) error {
	p, err := a.catalogProvider(c)
	if err != nil {
		return err
	}
	return c.JSON(summarizeExecutors(a.svc.Catalog().ProviderExecutors(p.ID)))
}

func (a *api) listTemplates(c *fiber.Ctx) error {
	out := []fiber.Map{}
	for _, t := range a.svc.Catalog().Templates() {
		out = append(out, fiber.Map{"id": t.ID, "name": t.Name, "description": t.Description,
			"version": t.Version, "category": t.Category})
	}
	return c.JSON(out)
}

func (a *api) getTemplate(c *fiber.Ctx) error {
	t, schema, err := a.svc.TemplateSchema(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": t.ID, "name": t.Name, "description": t.Description, "version": t.Version,
		"category": t.Category, "paramSchema": schema})
}

func (a *api) validateTemplate(c *fiber.Ctx) error {
	if _, ok := a.svc.Catalog().Template(c.Params("id")); !ok { // before the body, as the reference
		return flow.Errorf(flow.KindNotFound, "FLK-0240", "template not found: %s", c.Params("id"))
	}
	var req struct {
		Params map[string]any `json:"params"`
	}
	if err := parseBody(c, &req); err != nil {
		return err
	}
	if err := a.svc.ValidateTemplateParams(c.Params("id"), req.Params); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"valid": true})
}
