package flow

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ExecutionStatus is the lifecycle state of one run of a workflow.
type ExecutionStatus string

// Execution lifecycle: pending (queued) → running (claimed by a worker) →
// completed | failed | cancelled. A failed or cancelled run may be retried.
// A running execution that reaches a review, callback or delay node it
// cannot pass yet is waiting: no worker, no lease, until a decision, a
// callback or a timer makes it running again.
const (
	ExecPending   ExecutionStatus = "pending"
	ExecRunning   ExecutionStatus = "running"
	ExecCompleted ExecutionStatus = "completed"
	ExecFailed    ExecutionStatus = "failed"
	ExecCancelled ExecutionStatus = "cancelled"
	ExecWaiting   ExecutionStatus = "waiting"
)

// Terminal reports whether no more work will happen without a retry.
func (s ExecutionStatus) Terminal() bool {
	return s == ExecCompleted || s == ExecFailed || s == ExecCancelled
}

// ExecutionStatuses are every status, in lifecycle order.
var ExecutionStatuses = []ExecutionStatus{ExecPending, ExecRunning, ExecWaiting, ExecCompleted, ExecFailed, ExecCancelled}

// Valid reports whether s is a known status.
func (s ExecutionStatus) Valid() bool { return slices.Contains(ExecutionStatuses, s) }

// Execution is one run. It pins the workflow revision it started on; the
// table is the queue: a worker holds a lease (LeaseOwner until
// LeaseExpiresAt) while it runs the execution.
type Execution struct {
	ID               uuid.UUID
	WorkflowID       uuid.UUID
	WorkflowRevision int
	TriggerNodeID    string
	Status           ExecutionStatus
	Input            map[string]any
	Output           map[string]any
	ErrorMessage     string
	IdempotencyKey   string
	RequestHash      string // fingerprint of the request that created it
	TraceParent      string // W3C traceparent of the request that started it
	TraceState       string // and its tracestate
	Baggage          string // and its baggage
	CurrentStep      int
	TotalSteps       int
	CancelRequested  bool
	LeaseOwner       string
	LeaseExpiresAt   *time.Time
	StartedAt        time.Time
	CompletedAt      *time.Time
	UpdatedAt        time.Time
}

// StepStatus is the state of one processed node.
type StepStatus string

// Step states. A node runs at most once per attempt of an execution; nodes
// on branches not taken are recorded as skipped.
const (
	StepCompleted StepStatus = "completed"
	StepFailed    StepStatus = "failed"
	StepSkipped   StepStatus = "skipped"
)

// Step is the durable record of one node having been processed. Rows are
// append-only: a retry adds new rows, keeping the failed one as history.
type Step struct {
	ExecutionID  uuid.UUID
	Number       int
	NodeID       string
	Name         string
	Status       StepStatus
	Input        any // what was actually sent (request) or evaluated
	Output       any // node output after output mapping
	ErrorMessage string
	Attempts     int
	CallDetails  map[string]any // method, url, status code, duration of the last attempt
	StartedAt    time.Time
	CompletedAt  time.Time
}

// DurationMS is the step's wall time in milliseconds.
func (s *Step) DurationMS() int64 { return s.CompletedAt.Sub(s.StartedAt).Milliseconds() }

// WorkflowVersion is the definition an execution runs: the graph as it was
// when the workflow was activated at that revision.
type WorkflowVersion struct {
	WorkflowID uuid.UUID
	Revision   int
	Definition Definition
	CreatedAt  time.Time
}

// WebhookRoute maps an HTTP method and path to the trigger of an active
// workflow. Stored, so every replica serves every route.
type WebhookRoute struct {
	Method      string
	Path        string
	WorkflowID  uuid.UUID
	NodeID      string
	VerifyToken string // sealed at rest
}

// WebhookPathsMeet reports whether one call could reach both paths: a
// call is matched as sent, then percent-decoded ("/pay%20in" reaches both
// "/pay%20in" and "/pay in"), so two such routes must not both be
// registered — the one matched as sent would take the other's calls.
func WebhookPathsMeet(a, b string) bool {
	return a == b || DecodedWebhookPath(a) == b || DecodedWebhookPath(b) == a
}

// DecodedWebhookPath is p percent-decoded and normalised: what a call to p
// is matched against second. "" (no route) when it does not decode.
func DecodedWebhookPath(p string) string {
	decoded, err := url.PathUnescape(p)
	if err != nil {
		return ""
	}
	return NormalizeWebhookPath(decoded)
}

// NormalizeWebhookPath gives a path one leading slash and no trailing one:
// how a route is registered, and how a call is looked up.
func NormalizeWebhookPath(p string) string { return "/" + strings.Trim(p, "/") }

// Execution errors with the reference's codes.
var (
	ErrExecutionNotFound  = &Error{Kind: KindNotFound, Code: "FLK-0500", Message: "execution not found"}
	ErrWorkflowNotActive  = &Error{Kind: KindUnprocessable, Code: "FLK-0501", Message: "workflow is not active"}
	ErrIdempotencyMissing = &Error{Kind: KindInvalid, Code: "FLK-0509", Message: "Idempotency-Key header is required"}
	ErrIdempotencyReused  = &Error{Kind: KindUnprocessable, Code: "FLK-0510",
		Message: "Idempotency-Key was already used for a different request to this workflow"}
	ErrWebhookNotFound = &Error{Kind: KindNotFound, Code: "FLK-0361", Message: "no webhook registered for this path and method"}
	ErrWebhookToken    = &Error{Kind: KindUnauthorized, Code: "FLK-0362", Message: "webhook verification token invalid or missing"}
	ErrQueueFull       = &Error{Kind: KindUnavailable, Code: "FLK-0511",
		Message: "the engine is at capacity; retry after the indicated delay"}
)

// ExecutionFilter selects executions for a list.
type ExecutionFilter struct {
	WorkflowID uuid.UUID
	Status     ExecutionStatus
	// StartedFrom and StartedTo bound startedAt, both inclusive; nil is open.
	StartedFrom, StartedTo *time.Time
	Page                   PageRequest
}

// ExecutionSorts are the columns an execution list may be ordered by.
var ExecutionSorts = []string{"startedAt", "completedAt"}
