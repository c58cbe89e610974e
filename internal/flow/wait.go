package flow

import (
	"time"

	"github.com/google/uuid"
)

// WaitStatus is where one wait of an execution is (docs/waiting.md).
type WaitStatus string

// A wait is open until it is resolved (a decision, a callback, a timer
// that fired), expired (a deadline passed: the review's default decision,
// the callback's timeout) or cancelled with its execution.
const (
	WaitOpen      WaitStatus = "open"
	WaitResolved  WaitStatus = "resolved"
	WaitExpired   WaitStatus = "expired"
	WaitCancelled WaitStatus = "cancelled"
)

// ApproveDecision is the review decision four-eyes counts (every other
// decision resolves a review at once); TimeoutHandle is the edge a
// wait_for_callback takes when no callback came in time.
const (
	ApproveDecision = "approve"
	TimeoutHandle   = "timeout"
)

// Valid reports whether s is a known wait status.
func (s WaitStatus) Valid() bool {
	return s == WaitOpen || s == WaitResolved || s == WaitExpired || s == WaitCancelled
}

// Wait is one node of an execution waiting for something outside it: a
// review task, a callback or a timer. Its row is written when the node is
// reached; Output and Handle, once it is no longer open, are what the node
// produces and which outgoing edges it takes.
type Wait struct {
	ID          uuid.UUID
	ExecutionID uuid.UUID
	WorkflowID  uuid.UUID
	NodeID      string
	Kind        NodeType // review, wait_for_callback or delay
	Status      WaitStatus
	DueAt       *time.Time  // deadline, timeout or timer; nil: none
	Signal      string      // wait_for_callback: the signal it waits for
	Review      *ReviewTask // review: the task shown to analysts
	Output      any         // the node's output, once not open
	Handle      string      // the sourceHandle taken, once not open
	Decisions   []Decision  // review: the decisions cast, in order
	CreatedAt   time.Time
	ResolvedAt  *time.Time
}

// Open reports whether the wait still blocks its node.
func (w *Wait) Open() bool { return w.Status == WaitOpen }

// OpenAt reports whether w still takes a decision or a signal at now: open,
// and its deadline or timeout not passed. A wait past its due time that the
// timers have not resolved yet is theirs — its default decision or its
// timeout edge — not a late arrival's.
func (w *Wait) OpenAt(now time.Time) bool {
	return w.Open() && (w.DueAt == nil || now.Before(*w.DueAt))
}

// ReviewTask is what a review node asks of analysts.
type ReviewTask struct {
	Title             string         `json:"title"`
	Instructions      string         `json:"instructions,omitempty"`
	Context           map[string]any `json:"context"` // chosen by the node's mapping, secrets masked
	Decisions         []string       `json:"decisions"`
	RequiredApprovals int            `json:"requiredApprovals"`
	Group             string         `json:"group,omitempty"`
	DefaultDecision   string         `json:"defaultDecision,omitempty"`
}

// Decision is one analyst's decision on a review.
type Decision struct {
	Decision  string
	Comment   string
	ActorType string
	ActorID   string
	DecidedAt time.Time
}

// Signal is a payload delivered to an execution for its wait_for_callback
// node: by the callback URL or by the signals route. One per name: it may
// arrive before the node is reached, and is kept until then.
type Signal struct {
	ExecutionID uuid.UUID
	Name        string
	Payload     any
	Source      string // "callback" or "api"
	ActorType   string
	ActorID     string
	ReceivedAt  time.Time
}

// ReviewFilter selects reviews for a list.
type ReviewFilter struct {
	Status        WaitStatus
	WorkflowID    uuid.UUID
	ExecutionID   uuid.UUID
	Group         string
	CreatedBefore *time.Time // age: open longer than
	Page          PageRequest
}

// ReviewSorts are the columns a review list may be ordered by.
var ReviewSorts = []string{"createdAt"}

// Wait errors.
var (
	ErrReviewNotFound = &Error{Kind: KindNotFound, Code: "FLK-0520", Message: "review not found"}
	ErrReviewClosed   = &Error{Kind: KindConflict, Code: "FLK-0521",
		Message: "the review is no longer open: its execution is not waiting for it"}
	ErrAlreadyDecided = &Error{Kind: KindConflict, Code: "FLK-0522",
		Message: "this identity has already decided on this review; four-eyes needs another person"}
	ErrCallbackToken = &Error{Kind: KindNotFound, Code: "FLK-0524", Message: "callback not found"}
	ErrSignalUsed    = &Error{Kind: KindConflict, Code: "FLK-0525",
		Message: "this callback or signal was already delivered to the execution"}
	ErrSignalLate = &Error{Kind: KindConflict, Code: "FLK-0526",
		Message: "the execution no longer waits for this callback or signal"}
	ErrSignalUnknown = &Error{Kind: KindNotFound, Code: "FLK-0527",
		Message: "the execution's workflow has no wait_for_callback node for this signal"}
)
