package httpapi

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/secret"
	"flowker/internal/service"
)

// Execution bodies are limited to 1 MiB, as the reference's.
const executionBodyLimit = 1 << 20

// maxWait bounds synchronous mode below the HTTP write timeout.
const maxWait = 30 * time.Second

func (a *api) executionRoutes(r fiber.Router) {
	r.Post("/workflows/:id/executions", a.startExecution)
	r.Get("/executions", a.listExecutions)
	r.Get("/executions/:id", a.getExecution)
	r.Get("/executions/:id/results", a.getResults)
	r.Post("/executions/:id/cancel", a.cancelExecution)
	r.Post("/executions/:id/retry", a.retryExecution)
	r.All("/webhooks/*", a.webhook)
}

type executionResponse struct {
	ExecutionID       uuid.UUID            `json:"executionId"`
	WorkflowID        uuid.UUID            `json:"workflowId"`
	WorkflowRevision  int                  `json:"workflowRevision"`
	Status            flow.ExecutionStatus `json:"status"`
	CurrentStepNumber int                  `json:"currentStepNumber"`
	TotalSteps        int                  `json:"totalSteps"`
	StartedAt         time.Time            `json:"startedAt"`
	CompletedAt       *time.Time           `json:"completedAt,omitempty"`
	ErrorMessage      string               `json:"errorMessage,omitempty"`
	CancelRequested   bool                 `json:"cancelRequested,omitempty"`
	TraceID           string               `json:"traceId,omitempty"`
}

func toExecutionResponse(e *flow.Execution) executionResponse {
	return executionResponse{ExecutionID: e.ID, WorkflowID: e.WorkflowID, WorkflowRevision: e.WorkflowRevision,
		Status: e.Status, CurrentStepNumber: e.CurrentStep, TotalSteps: e.TotalSteps, StartedAt: e.StartedAt,
		CompletedAt: e.CompletedAt, ErrorMessage: e.ErrorMessage, CancelRequested: e.CancelRequested,
		TraceID: traceIDOf(e.TraceParent)}
}

// traceIDOf is the trace id of a W3C traceparent (version-traceid-parentid-flags),
// empty when there is none or it is malformed.
func traceIDOf(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) < 4 || len(parts[1]) != 32 || strings.Trim(parts[1], "0") == "" {
		return ""
	}
	for _, r := range parts[1] {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return ""
		}
	}
	return parts[1]
}

type stepResponse struct {
	StepNumber   int             `json:"stepNumber"`
	StepName     string          `json:"stepName"`
	NodeID       string          `json:"nodeId"`
	Status       flow.StepStatus `json:"status"`
	Output       any             `json:"output,omitempty"`
	ErrorMessage string          `json:"errorMessage,omitempty"`
	ExecutedAt   time.Time       `json:"executedAt"`
	DurationMs   int64           `json:"durationMs"`
	Attempts     int             `json:"attempts,omitempty"`
	Input        any             `json:"input,omitempty"`
	CallDetails  map[string]any  `json:"callDetails,omitempty"`
}

type resultsResponse struct {
	ExecutionID uuid.UUID            `json:"executionId"`
	WorkflowID  uuid.UUID            `json:"workflowId"`
	Status      flow.ExecutionStatus `json:"status"`
	StepResults []stepResponse       `json:"stepResults"`
	FinalOutput map[string]any       `json:"finalOutput,omitempty"`
	Error       string               `json:"errorMessage,omitempty"`
	StartedAt   time.Time            `json:"startedAt"`
	CompletedAt *time.Time           `json:"completedAt,omitempty"`
}

// toResultsResponse shows an execution's steps and output without the
// token of any callback URL in them (secret.HideCallbackTokens): a provider
// may echo the URL it was handed, and the token is a credential that a
// caller who may only read must not get (docs/security.md, "Callbacks").
// What is stored stays as it was: the engine resumes from it.
func toResultsResponse(r *service.Results) resultsResponse {
	final, _ := secret.HideCallbackTokens(r.Execution.Output).(map[string]any)
	out := resultsResponse{ExecutionID: r.Execution.ID, WorkflowID: r.Execution.WorkflowID, Status: r.Execution.Status,
		StepResults: make([]stepResponse, len(r.Steps)), FinalOutput: final,
		Error: hideToken(r.Execution.ErrorMessage), StartedAt: r.Execution.StartedAt, CompletedAt: r.Execution.CompletedAt}
	for i, st := range r.Steps {
		out.StepResults[i] = stepResponse{StepNumber: st.Number, StepName: st.Name, NodeID: st.NodeID, Status: st.Status,
			Output: secret.HideCallbackTokens(st.Output), ErrorMessage: hideToken(st.ErrorMessage), ExecutedAt: st.StartedAt,
			DurationMs: st.DurationMS(), Attempts: st.Attempts, Input: secret.HideCallbackTokens(st.Input),
			CallDetails: st.CallDetails}
	}
	return out
}

func hideToken(s string) string { return secret.HideCallbackTokens(s).(string) }

// waitPreference reads synchronous mode: ?wait=5s (or seconds) or Prefer: wait=5.
func waitPreference(c *fiber.Ctx) (time.Duration, error) {
	raw := c.Query("wait")
	if raw == "" {
		for _, pref := range strings.Split(c.Get("Prefer"), ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(pref), "wait="); ok {
				raw = v
			}
		}
	}
	if raw == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		secs, serr := strconv.ParseFloat(raw, 64)
		if serr != nil || secs < 0 {
			return 0, flow.Invalidf(flow.CodeInvalidQuery, "wait must be a duration such as 5s (or seconds), at most %s", maxWait)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 || d > maxWait {
		return 0, flow.Invalidf(flow.CodeInvalidQuery, "wait must be between 0 and %s", maxWait)
	}
	return d, nil
}

func (a *api) startExecution(c *fiber.Ctx) error {
	raw, err := requestBody(c) // 413 FLK-0506 over 1 MiB, inflated or not
	if err != nil {
		return err
	}
	id, err := parseID(c, "id", "workflow")
	if err != nil {
		return err
	}
	var req struct {
		InputData map[string]any `json:"inputData"`
	}
	// A misspelt field ("input") must not start a transaction with an
	// empty input: unknown fields are refused here (docs/decisions.md).
	if err := decodeBody(c, raw, &req, []string{"inputData"}); err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	if key == "" {
		return flow.ErrIdempotencyMissing
	}
	wait, err := waitPreference(c)
	if err != nil {
		return err
	}
	res, err := a.svc.StartExecution(c.UserContext(), service.StartRequest{WorkflowID: id, Input: req.InputData,
		IdempotencyKey: key, Wait: wait})
	if err != nil {
		return err
	}
	return a.answerStart(c, res, wait)
}

// answerStart answers a start: 201 new, 200 a replay of a finished one (as the
// reference), and in synchronous mode 200 with the results or 202.
func (a *api) answerStart(c *fiber.Ctx, res *service.StartResult, wait time.Duration) error {
	ex := res.Execution
	c.Location("/v1/executions/" + ex.ID.String())
	if res.Replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	body := fiber.Map{"executionId": ex.ID, "workflowId": ex.WorkflowID, "status": ex.Status, "startedAt": ex.StartedAt}
	switch {
	case wait > 0 && res.Results != nil:
		c.Set("Preference-Applied", "wait="+strconv.Itoa(int(wait.Seconds())))
		return c.Status(http.StatusOK).JSON(toResultsResponse(res.Results))
	case wait > 0:
		return c.Status(http.StatusAccepted).JSON(body)
	case res.Replayed && ex.Status.Terminal():
		return c.Status(http.StatusOK).JSON(body)
	}
	return c.Status(http.StatusCreated).JSON(body)
}

func (a *api) listExecutions(c *fiber.Ctx) error {
	var f flow.ExecutionFilter
	if v := c.Query("status"); v != "" {
		f.Status = flow.ExecutionStatus(v)
		if !f.Status.Valid() {
			return &flow.Error{Kind: flow.KindInvalid, Code: flow.CodeInvalidQuery, Title: "Invalid Status Filter",
				Message: "status must be one of [pending, running, waiting, completed, failed, cancelled]"}
		}
	}
	if v := c.Query("workflowId"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return flow.Invalidf(flow.CodeInvalidID, "invalid workflowId filter")
		}
		f.WorkflowID = id
	}
	var err error
	if f.StartedFrom, f.StartedTo, err = parseTimeRange(c, "startedFrom", "startedTo"); err != nil {
		return err
	}
	if f.Page, err = parsePage(c, flow.ExecutionSorts); err != nil {
		return err
	}
	if c.Query("workflowId") != "" && f.WorkflowID == uuid.Nil {
		// The nil UUID names no workflow (ids are never nil): an empty
		// page, as for any other workflow without executions, not the
		// unfiltered list a zero filter would give.
		return c.JSON(listResponse[executionResponse]{Items: []executionResponse{}})
	}
	page, err := a.svc.ListExecutions(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(toList(page, toExecutionResponse))
}

func (a *api) getExecution(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "execution")
	if err != nil {
		return err
	}
	ex, err := a.svc.GetExecution(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toExecutionResponse(ex))
}

func (a *api) getResults(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "execution")
	if err != nil {
		return err
	}
	r, err := a.svc.ExecutionResults(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toResultsResponse(r))
}

func (a *api) cancelExecution(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "execution")
	if err != nil {
		return err
	}
	ex, err := a.svc.CancelExecution(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toExecutionResponse(ex))
}

func (a *api) retryExecution(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "execution")
	if err != nil {
		return err
	}
	ex, err := a.svc.RetryExecution(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(toExecutionResponse(ex))
}

// webhook serves /v1/webhooks/{path…} for any method, from stored routes.
func (a *api) webhook(c *fiber.Ctx) error {
	// 413 FLK-0363 over 1 MiB, inflated or not, first; a body that cannot
	// be read is a 400 of the body, after the route and its token.
	raw, rawErr := requestBody(c)
	if flow.KindOf(rawErr) == flow.KindTooLarge {
		return rawErr
	}
	decode := sync.OnceValues(func() (body map[string]any, err error) { // once, whatever the service's attempts
		if rawErr != nil {
			return nil, rawErr
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			err = decodeBody(c, raw, &body, nil)
		}
		return body, err
	})
	wait, err := waitPreference(c)
	if err != nil {
		return err
	}
	headers, err := webhookHeaders(c)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	query := c.Queries()
	delete(query, "wait") // how the caller is answered (waitPreference), not what it delivers
	res, err := a.svc.StartWebhook(c.UserContext(), service.WebhookRequest{
		Method: c.Method(), Path: "/" + c.Params("*"), Token: c.Get("X-Webhook-Token"), Body: decode,
		RemoteIP: a.auth.clientIP(c), Headers: headers, Query: query, IdempotencyKey: key, Wait: wait})
	if err != nil {
		return err
	}
	c.Set("X-Webhook-Workflow-ID", res.Execution.WorkflowID.String())
	c.Set("X-Webhook-Execution-ID", res.Execution.ID.String())
	return a.answerStart(c, res, wait)
}

// webhookHeaders are the request's headers, which the execution's input
// keeps (_webhook.headers): a name or value with a NUL character or invalid
// UTF-8 is refused, naming the header, as body fields are.
func webhookHeaders(c *fiber.Ctx) (map[string]string, error) {
	headers := make(map[string]string, c.Request().Header.Len())
	var err error
	c.Request().Header.VisitAll(func(k, v []byte) {
		if err != nil {
			return
		}
		name := string(k)
		if p := textProblem(name); p != "" {
			err = flow.Invalidf(flow.CodeInvalidBody, "invalid request header name: it %s", p)
		} else if p := textProblem(string(v)); p != "" {
			err = flow.Invalidf(flow.CodeInvalidBody, "invalid request header %q: its value %s", name, p)
		}
		headers[name] = string(v)
	})
	return headers, err
}
