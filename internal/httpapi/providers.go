package httpapi

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/service"
)

func (a *api) providerConfigRoutes(r fiber.Router) {
	r.Post("/provider-configurations", a.createProviderConfig)
	r.Get("/provider-configurations", a.listProviderConfigs)
	r.Get("/provider-configurations/:id", a.getProviderConfig)
	r.Patch("/provider-configurations/:id", a.updateProviderConfig)
	r.Delete("/provider-configurations/:id", a.deleteProviderConfig)
	r.Post("/provider-configurations/:id/disable", a.setProviderConfigStatus(flow.ConfigDisabled))
	r.Post("/provider-configurations/:id/enable", a.setProviderConfigStatus(flow.ConfigActive))
	r.Post("/provider-configurations/:id/test", a.testProviderConfig)
}

type providerConfigResponse struct {
	ID          uuid.UUID         `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	ProviderID  string            `json:"providerId"`
	Config      map[string]any    `json:"config"`
	Status      flow.ConfigStatus `json:"status"`
	Metadata    map[string]any    `json:"metadata,omitempty"`
	Revision    int               `json:"revision"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
}

func toProviderConfigResponse(p *flow.ProviderConfig) providerConfigResponse {
	return providerConfigResponse{ID: p.ID, Name: p.Name, Description: p.Description, ProviderID: p.ProviderID,
		Config: p.Config, Status: p.Status, Metadata: p.Metadata, Revision: p.Revision,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func (a *api) createProviderConfig(c *fiber.Ctx) error {
	var req struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		ProviderID  string         `json:"providerId"`
		Config      map[string]any `json:"config"`
		Metadata    map[string]any `json:"metadata"`
	}
	if err := parseBody(c, &req); err != nil {
		return err
	}
	p, err := a.svc.CreateProviderConfig(c.UserContext(), flow.ProviderConfig{Name: req.Name,
		Description: req.Description, ProviderID: req.ProviderID, Config: req.Config, Metadata: req.Metadata})
	if err != nil {
		return err
	}
	c.Location("/v1/provider-configurations/" + p.ID.String())
	setETag(c, p.Revision)
	return c.Status(http.StatusCreated).JSON(fiber.Map{"id": p.ID, "name": p.Name, "providerId": p.ProviderID,
		"status": p.Status, "revision": p.Revision, "createdAt": p.CreatedAt})
}

func (a *api) listProviderConfigs(c *fiber.Ctx) error {
	f := flow.ConfigFilter{Status: flow.ConfigStatus(c.Query("status")), ProviderID: c.Query("providerId"),
		Name: c.Query("name")}
	if f.Status != "" && f.Status != flow.ConfigActive && f.Status != flow.ConfigDisabled {
		return flow.Invalidf(flow.CodeInvalidQuery, "invalid status parameter: must be 'active' or 'disabled'")
	}
	var err error
	if f.Page, err = parsePage(c, flow.ConfigSorts); err != nil {
		return err
	}
	page, err := a.svc.ListProviderConfigs(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(toList(page, toProviderConfigResponse))
}

func (a *api) getProviderConfig(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "provider configuration")
	if err != nil {
		return err
	}
	p, err := a.svc.GetProviderConfig(c.UserContext(), id)
	if err != nil {
		return err
	}
	return providerConfigJSON(c, p)
}

func (a *api) updateProviderConfig(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "provider configuration")
	if err != nil {
		return err
	}
	var req struct {
		Name        *string        `json:"name"`
		Description *string        `json:"description"` // null or absent: unchanged, as the reference
		Config      map[string]any `json:"config"`
		Metadata    map[string]any `json:"metadata"`
	}
	if err := parseBody(c, &req); err != nil {
		return err
	}
	p, err := a.svc.UpdateProviderConfig(conditional(c), id, service.ProviderConfigPatch{Name: req.Name,
		Description: req.Description, Config: req.Config, Metadata: req.Metadata})
	if err != nil {
		return err
	}
	return providerConfigJSON(c, p)
}

func (a *api) deleteProviderConfig(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "provider configuration")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteProviderConfig(conditional(c), id); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *api) setProviderConfigStatus(to flow.ConfigStatus) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := parseID(c, "id", "provider configuration")
		if err != nil {
			return err
		}
		p, err := a.svc.SetProviderConfigStatus(conditional(c), id, to)
		if err != nil {
			return err
		}
		return providerConfigJSON(c, p)
	}
}

// providerConfigJSON answers one provider configuration with its ETag.
func providerConfigJSON(c *fiber.Ctx, p *flow.ProviderConfig) error {
	setETag(c, p.Revision)
	return c.JSON(toProviderConfigResponse(p))
}

// testResponse is a connectivity test's body; the id fields name what was tested.
type testResponse struct {
	ProviderConfigID *uuid.UUID `json:"providerConfigId,omitempty"`
	ProviderID       string     `json:"providerId,omitempty"`
	ExecutorConfigID *uuid.UUID `json:"executorConfigId,omitempty"`
	Status           string     `json:"status,omitempty"` // executor configuration status after the test
	provider.TestResult
}

func (a *api) testProviderConfig(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "provider configuration")
	if err != nil {
		return err
	}
	res, err := a.svc.TestProviderConfig(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(testResponse{ProviderConfigID: &res.ProviderConfigID, ProviderID: res.ProviderID,
		TestResult: res.TestResult})
}

// toList renders a page with the shared list envelope.
func toList[T, R any](p flow.Page[T], render func(*T) R) listResponse[R] {
	items := make([]R, len(p.Items))
	for i := range p.Items {
		items[i] = render(&p.Items[i])
	}
	return listResponse[R]{Items: items, NextCursor: p.NextCursor, HasMore: p.HasMore}
}
