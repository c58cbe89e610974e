package httpapi

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"flowker/internal/flow"
)

func (a *api) executorRoutes(r fiber.Router) {
	// HEAD routes first: Fiber also answers HEAD with GET routes, but
	// "exists" is its own operation with its own span.
	r.Head("/executors", a.executorNameExists)
	r.Head("/executors/:id", a.executorExists)
	r.Post("/executors", a.createExecutor)
	r.Get("/executors", a.listExecutors)
	r.Get("/executors/:id", a.getExecutor)
	r.Patch("/executors/:id", a.updateExecutor)
	r.Delete("/executors/:id", a.deleteExecutor)
	r.Post("/executors/:id/test", a.testExecutor)
	for _, action := range []string{"configure", "activate", "disable", "enable"} {
		r.Post("/executors/:id/"+action, a.executorAction(action))
	}
}

// executorRequest is the body of create and of PATCH (a full replacement).
type executorRequest struct {
	Name           string              `json:"name"`
	Description    string              `json:"description"`
	BaseURL        string              `json:"baseUrl"`
	Endpoints      []flow.Endpoint     `json:"endpoints"`
	Authentication flow.Authentication `json:"authentication"`
	Metadata       map[string]any      `json:"metadata"`
}

func (r executorRequest) config() flow.ExecutorConfig {
	return flow.ExecutorConfig{Name: r.Name, Description: r.Description, BaseURL: r.BaseURL,
		Endpoints: r.Endpoints, Authentication: r.Authentication, Metadata: r.Metadata}
}

type executorResponse struct {
	ID             uuid.UUID           `json:"id"`
	Name           string              `json:"name"`
	Description    string              `json:"description,omitempty"`
	BaseURL        string              `json:"baseUrl"`
	Endpoints      []flow.Endpoint     `json:"endpoints"`
	Authentication flow.Authentication `json:"authentication"`
	Status         flow.ConfigStatus   `json:"status"`
	Metadata       map[string]any      `json:"metadata,omitempty"`
	Revision       int                 `json:"revision"`
	CreatedAt      time.Time           `json:"createdAt"`
	UpdatedAt      time.Time           `json:"updatedAt"`
	LastTestedAt   *time.Time          `json:"lastTestedAt,omitempty"`
}

func toExecutorResponse(e *flow.ExecutorConfig) executorResponse {
	return executorResponse{ID: e.ID, Name: e.Name, Description: e.Description, BaseURL: e.BaseURL,
		Endpoints: e.Endpoints, Authentication: e.Authentication, Status: e.Status, Metadata: e.Metadata,
		Revision: e.Revision, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, LastTestedAt: e.LastTestedAt}
}

func (a *api) createExecutor(c *fiber.Ctx) error {
	var req executorRequest
	if err := parseBody(c, &req); err != nil {
		return err
	}
	e, err := a.svc.CreateExecutorConfig(c.UserContext(), req.config())
	if err != nil {
		return err
	}
	c.Location("/v1/executors/" + e.ID.String())
	setETag(c, e.Revision)
	return c.Status(http.StatusCreated).JSON(toExecutorResponse(e))
}

func (a *api) listExecutors(c *fiber.Ctx) error {
	f := flow.ConfigFilter{Status: flow.ConfigStatus(c.Query("status")), Name: c.Query("name")}
	switch f.Status {
	case "", flow.ConfigUnconfigured, flow.ConfigConfigured, flow.ConfigTested, flow.ConfigActive, flow.ConfigDisabled:
	default:
		return flow.Invalidf(flow.CodeInvalidQuery,
			"invalid status parameter: must be one of unconfigured, configured, tested, active, disabled")
	}
	var err error
	if f.Page, err = parsePage(c, flow.ConfigSorts); err != nil {
		return err
	}
	page, err := a.svc.ListExecutorConfigs(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(toList(page, toExecutorResponse))
}

func (a *api) getExecutor(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "executor configuration")
	if err != nil {
		return err
	}
	e, err := a.svc.GetExecutorConfig(c.UserContext(), id)
	if err != nil {
		return err
	}
	return executorJSON(c, e)
}

func (a *api) updateExecutor(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "executor configuration")
	if err != nil {
		return err
	}
	var req executorRequest
	if err := parseBody(c, &req); err != nil {
		return err
	}
	e, err := a.svc.UpdateExecutorConfig(conditional(c), id, req.config())
	if err != nil {
		return err
	}
	return executorJSON(c, e)
}

func (a *api) deleteExecutor(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "executor configuration")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteExecutorConfig(conditional(c), id); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *api) executorAction(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := parseID(c, "id", "executor configuration")
		if err != nil {
			return err
		}
		e, err := a.svc.ApplyExecutorAction(conditional(c), id, action)
		if err != nil {
			return err
		}
		return executorJSON(c, e)
	}
}

// executorJSON answers one executor configuration with its ETag.
func executorJSON(c *fiber.Ctx, e *flow.ExecutorConfig) error {
	setETag(c, e.Revision)
	return c.JSON(toExecutorResponse(e))
}

func (a *api) testExecutor(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "executor configuration")
	if err != nil {
		return err
	}
	res, err := a.svc.TestExecutorConfig(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(testResponse{ExecutorConfigID: &res.ExecutorConfigID, Status: string(res.Status),
		TestResult: res.TestResult})
}

// executorExists and executorNameExists answer HEAD: 200 or 404, no body.
func (a *api) executorExists(c *fiber.Ctx) error {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return c.SendStatus(http.StatusBadRequest)
	}
	ok, err := a.svc.ExecutorConfigExists(c.UserContext(), id)
	return existsStatus(c, ok, err)
}

func (a *api) executorNameExists(c *fiber.Ctx) error {
	name := c.Query("name")
	if name == "" {
		return c.SendStatus(http.StatusBadRequest)
	}
	ok, err := a.svc.ExecutorConfigNameExists(c.UserContext(), name)
	return existsStatus(c, ok, err)
}

func existsStatus(c *fiber.Ctx, ok bool, err error) error {
	switch {
	case err != nil:
		return err // logged by the error handler; HEAD sends no body anyway
	case ok:
		return c.SendStatus(http.StatusOK)
	default:
		return c.SendStatus(http.StatusNotFound)
	}
}
