package httpapi

import (
	"bytes"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"flowker/internal/config"
	"flowker/internal/flow"
	"flowker/internal/secret"
	"flowker/internal/service"
)

// Reviews, callbacks and signals: what a waiting execution waits for
// (review, wait_for_callback and delay nodes).
//
//   - /v1/reviews lists the review tasks and records analysts' decisions
//     (reviews:read, reviews:decide; a review with a group also needs
//     reviews:decide:<group>).
//   - POST /v1/callbacks/{token} is the callback URL a provider was handed
//     (execution.callbacks.<nodeId>): the token is its credential
//     (pathAuthenticated in auth.go), and is never logged or traced
//     (secret.RedactText hides it).
//   - POST /v1/executions/{id}/signals/{name} delivers the same payload by
//     the node's signal name, for callers with executions:manage.
func (a *api) waitRoutes(r fiber.Router) {
	r.Get("/reviews", a.listReviews)
	r.Get("/reviews/:id", a.getReview)
	r.Post("/reviews/:id/decisions", a.decideReview)
	r.Post("/callbacks/:token", a.callback)
	r.Post("/executions/:id/signals/:name", a.signal)
}

// reviewActor is who cast a vote: an API key's id or a token's subject.
type reviewActor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// reviewVote is one decision cast on a review.
type reviewVote struct {
	Decision  string      `json:"decision"`
	Comment   string      `json:"comment,omitempty"`
	Actor     reviewActor `json:"actor"`
	DecidedAt time.Time   `json:"decidedAt"`
}

// reviewResponse is a review task. Decisions are the names an analyst may
// choose; votes, the decisions cast so far, in order; decision, once the
// review is resolved or expired, the one it took (its outgoing edge).
type reviewResponse struct {
	ID                uuid.UUID       `json:"id"`
	ExecutionID       uuid.UUID       `json:"executionId"`
	WorkflowID        uuid.UUID       `json:"workflowId"`
	NodeID            string          `json:"nodeId"`
	Status            flow.WaitStatus `json:"status"`
	Title             string          `json:"title"`
	Instructions      string          `json:"instructions,omitempty"`
	Context           map[string]any  `json:"context"`
	Decisions         []string        `json:"decisions"`
	RequiredApprovals int             `json:"requiredApprovals"`
	Group             string          `json:"group,omitempty"`
	DefaultDecision   string          `json:"defaultDecision,omitempty"`
	DueAt             *time.Time      `json:"dueAt,omitempty"`
	CreatedAt         time.Time       `json:"createdAt"`
	ResolvedAt        *time.Time      `json:"resolvedAt,omitempty"`
	Decision          string          `json:"decision,omitempty"`
	Votes             []reviewVote    `json:"votes"`
}

func toReviewResponse(w *flow.Wait) reviewResponse {
	r := reviewResponse{ID: w.ID, ExecutionID: w.ExecutionID, WorkflowID: w.WorkflowID, NodeID: w.NodeID,
		Status: w.Status, Context: map[string]any{}, Decisions: []string{}, DueAt: w.DueAt, CreatedAt: w.CreatedAt,
		ResolvedAt: w.ResolvedAt, Votes: make([]reviewVote, len(w.Decisions))}
	if t := w.Review; t != nil {
		r.Title, r.Instructions, r.RequiredApprovals = t.Title, t.Instructions, t.RequiredApprovals
		r.Group, r.DefaultDecision = t.Group, t.DefaultDecision
		if t.Context != nil { // mapped from the execution: may echo a callback URL (toResultsResponse)
			r.Context, _ = secret.HideCallbackTokens(t.Context).(map[string]any)
		}
		if t.Decisions != nil {
			r.Decisions = t.Decisions
		}
	}
	if w.Status == flow.WaitResolved || w.Status == flow.WaitExpired {
		r.Decision = w.Handle
	}
	for i, d := range w.Decisions {
		r.Votes[i] = reviewVote{Decision: d.Decision, Comment: d.Comment,
			Actor: reviewActor{Type: d.ActorType, ID: d.ActorID}, DecidedAt: d.DecidedAt}
	}
	return r
}

func (a *api) listReviews(c *fiber.Ctx) error {
	var f flow.ReviewFilter
	if v := c.Query("status"); v != "" {
		if f.Status = flow.WaitStatus(v); !f.Status.Valid() {
			return flow.Invalidf(flow.CodeInvalidQuery, "status must be one of [open, resolved, expired, cancelled]")
		}
	}
	wf, err := parseQueryID(c, "workflowId")
	if err != nil {
		return err
	}
	ex, err := parseQueryID(c, "executionId")
	if err != nil {
		return err
	}
	f.Group = c.Query("group")
	if v := c.Query("olderThan"); v != "" {
		age, err := time.ParseDuration(v)
		if err != nil || age < 0 {
			return flow.Invalidf(flow.CodeInvalidQuery, "olderThan must be a duration such as 30m or 24h")
		}
		before := time.Now().Add(-age)
		f.CreatedBefore = &before
	}
	if f.Page, err = parsePage(c, flow.ReviewSorts); err != nil {
		return err
	}
	if (wf != nil && *wf == uuid.Nil) || (ex != nil && *ex == uuid.Nil) { // names nothing: an empty page, as GET /v1/executions
		return c.JSON(listResponse[reviewResponse]{Items: []reviewResponse{}})
	}
	if wf != nil {
		f.WorkflowID = *wf
	}
	if ex != nil {
		f.ExecutionID = *ex
	}
	page, err := a.svc.ListReviews(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(toList(page, toReviewResponse))
}

func (a *api) getReview(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "review")
	if err != nil {
		return err
	}
	w, err := a.svc.GetReview(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toReviewResponse(w))
}

// decideReview records one decision; the answer is the review after it
// (resolved when this decision settled it).
func (a *api) decideReview(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "review")
	if err != nil {
		return err
	}
	var req struct {
		Decision string `json:"decision"`
		Comment  string `json:"comment"`
	}
	if err := parseBodyOnly(c, &req, "decision", "comment"); err != nil {
		return err
	}
	if req.Decision == "" {
		return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: decision is required")
	}
	w, err := a.svc.Decide(c.UserContext(), service.DecideRequest{ReviewID: id, Decision: req.Decision,
		Comment: req.Comment, MayDecide: mayDecide(c)})
	if err != nil {
		return err
	}
	c.Location("/v1/reviews/" + w.ID.String())
	return c.Status(http.StatusCreated).JSON(toReviewResponse(w))
}

// mayDecide tells the service which review groups the caller may decide:
// a group's reviews need reviews:decide:<group> (or reviews:decide:*) on
// top of the route's reviews:decide. Nil, every group, when
// authentication is disabled (there is no caller to ask).
func mayDecide(c *fiber.Ctx) func(group string) bool {
	p, _ := c.Locals(localPrincipal).(*principal)
	if p == nil {
		return nil
	}
	return func(group string) bool {
		return group == "" || p.can(config.PermReviewsDecideAnyGroup) || p.can(config.PermReviewsDecideGroup+group)
	}
}

// accepted is the answer to a delivered callback or signal.
var accepted = fiber.Map{"status": "accepted"}

// callback delivers a provider's callback. The token names the execution
// and node; an unknown or forged one is 404 whether or not the execution
// exists.
func (a *api) callback(c *fiber.Ctx) error {
	payload, err := parsePayload(c)
	if err != nil {
		return err
	}
	if err := a.svc.Callback(c.UserContext(), c.Params("token"), payload); err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(accepted)
}

func (a *api) signal(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "execution")
	if err != nil {
		return err
	}
	payload, err := parsePayload(c)
	if err != nil {
		return err
	}
	if err := a.svc.Signal(c.UserContext(), id, c.Params("name"), payload); err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(accepted)
}

// parsePayload reads the body of a callback or signal: any JSON value,
// which becomes the wait_for_callback node's output; an empty body is null.
func parsePayload(c *fiber.Ctx) (any, error) {
	body, err := requestBody(c)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var v any
	if err := decodeBody(c, body, &v, nil); err != nil {
		return nil, err
	}
	return v, nil
}
