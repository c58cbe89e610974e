package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"flowker/internal/flow"
)

func (a *api) workflowRoutes(r fiber.Router) {
	r.Post("/workflows", a.createWorkflow)
	r.Post("/workflows/from-template", a.createWorkflowFromTemplate)
	r.Get("/workflows", a.listWorkflows)
	r.Get("/workflows/:id", a.getWorkflow)
	r.Put("/workflows/:id", a.updateWorkflow)
	r.Delete("/workflows/:id", a.deleteWorkflow)
	r.Post("/workflows/:id/clone", a.cloneWorkflow)
	r.Post("/workflows/:id/activate", a.transitionWorkflow(a.svc.ActivateWorkflow))
	r.Post("/workflows/:id/deactivate", a.transitionWorkflow(a.svc.DeactivateWorkflow))
	r.Post("/workflows/:id/draft", a.transitionWorkflow(a.svc.DraftWorkflow))
}

// workflowRequest is the body of create and update.
type workflowRequest struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Nodes       []flow.Node    `json:"nodes"`
	Edges       []flow.Edge    `json:"edges"`
	Metadata    map[string]any `json:"metadata"`
}

func (r workflowRequest) definition() flow.Definition {
	return flow.Definition{Name: r.Name, Description: r.Description, Nodes: r.Nodes, Edges: r.Edges, Metadata: r.Metadata}
}

// workflowResponse is the reference's WorkflowOutput plus revision.
type workflowResponse struct {
	ID          uuid.UUID           `json:"id"`
	Name        string              `json:"name"`
	Description string              `json:"description,omitempty"`
	Status      flow.WorkflowStatus `json:"status"`
	Revision    int                 `json:"revision"`
	Nodes       []flow.Node         `json:"nodes"`
	Edges       []flow.Edge         `json:"edges"`
	Metadata    map[string]any      `json:"metadata,omitempty"`
	CreatedAt   time.Time           `json:"createdAt"`
	UpdatedAt   time.Time           `json:"updatedAt"`
}

func toWorkflowResponse(w *flow.Workflow) workflowResponse {
	r := workflowResponse{ID: w.ID, Name: w.Name, Description: w.Description, Status: w.Status,
		Revision: w.Revision, Nodes: w.Nodes, Edges: w.Edges, Metadata: w.Metadata,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if r.Nodes == nil {
		r.Nodes = []flow.Node{}
	}
	if r.Edges == nil {
		r.Edges = []flow.Edge{}
	}
	return r
}

// createdResponse is the reference's WorkflowCreateOutput. Its "version"
// was a constant "1.0.0"; it now carries the revision, still as a string.
type createdResponse struct {
	WorkflowID uuid.UUID           `json:"workflowId"`
	Version    string              `json:"version"`
	Revision   int                 `json:"revision"`
	Status     flow.WorkflowStatus `json:"status"`
	CreatedAt  time.Time           `json:"createdAt"`
}

func created(c *fiber.Ctx, w *flow.Workflow) error {
	c.Location("/v1/workflows/" + w.ID.String())
	setETag(c, w.Revision)
	return c.Status(http.StatusCreated).JSON(createdResponse{WorkflowID: w.ID,
		Version: strconv.Itoa(w.Revision), Revision: w.Revision, Status: w.Status, CreatedAt: w.CreatedAt})
}

type listResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor"`
	HasMore    bool   `json:"hasMore"`
}

func (a *api) createWorkflow(c *fiber.Ctx) error {
	var req workflowRequest
	if err := parseBody(c, &req); err != nil {
		return err
	}
	w, err := a.svc.CreateWorkflow(c.UserContext(), req.definition())
	if err != nil {
		return err
	}
	return created(c, w)
}

func (a *api) createWorkflowFromTemplate(c *fiber.Ctx) error {
	var req struct {
		TemplateID string         `json:"templateId"`
		Params     map[string]any `json:"params"`
	}
	if err := parseBody(c, &req); err != nil {
		return err
	}
	w, err := a.svc.CreateWorkflowFromTemplate(c.UserContext(), req.TemplateID, req.Params)
	if err != nil {
		return err
	}
	return created(c, w)
}

func (a *api) listWorkflows(c *fiber.Ctx) error {
	f := flow.WorkflowFilter{Name: c.Query("name"), Status: flow.WorkflowStatus(c.Query("status"))}
	if f.Status != "" && !f.Status.Valid() {
		return flow.Invalidf(flow.CodeInvalidQuery, "invalid status parameter: must be one of draft, active, inactive")
	}
	var err error
	if f.Page, err = parsePage(c, flow.WorkflowSorts); err != nil {
		return err
	}
	page, err := a.svc.ListWorkflows(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(toList(page, toWorkflowResponse))
}

func (a *api) getWorkflow(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "workflow")
	if err != nil {
		return err
	}
	w, err := a.svc.GetWorkflow(c.UserContext(), id)
	if err != nil {
		return err
	}
	return workflowJSON(c, w)
}

func (a *api) updateWorkflow(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "workflow")
	if err != nil {
		return err
	}
	var req workflowRequest
	if err := parseBody(c, &req); err != nil {
		return err
	}
	w, err := a.svc.UpdateWorkflow(conditional(c), id, req.definition())
	if err != nil {
		return err
	}
	return workflowJSON(c, w)
}

func (a *api) deleteWorkflow(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "workflow")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteWorkflow(conditional(c), id); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *api) cloneWorkflow(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "workflow")
	if err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := parseBody(c, &req); err != nil {
		return err
	}
	w, err := a.svc.CloneWorkflow(c.UserContext(), id, req.Name)
	if err != nil {
		return err
	}
	return created(c, w)
}

// transitionWorkflow serves activate, deactivate and draft: no body, one id.
func (a *api) transitionWorkflow(op func(ctx context.Context, id uuid.UUID) (*flow.Workflow, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := parseID(c, "id", "workflow")
		if err != nil {
			return err
		}
		w, err := op(conditional(c), id)
		if err != nil {
			return err
		}
		return workflowJSON(c, w)
	}
}

// workflowJSON answers one workflow with its ETag.
func workflowJSON(c *fiber.Ctx, w *flow.Workflow) error {
	setETag(c, w.Revision)
	return c.JSON(toWorkflowResponse(w))
}
