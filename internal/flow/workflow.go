package flow

import (
	"time"

	"github.com/google/uuid"
)

// WorkflowStatus is the lifecycle state of a workflow.
type WorkflowStatus string

// Workflow lifecycle: draft → active → inactive → draft. Only drafts are
// edited; only active workflows run.
const (
	StatusDraft    WorkflowStatus = "draft"
	StatusActive   WorkflowStatus = "active"
	StatusInactive WorkflowStatus = "inactive"
)

// Valid reports whether s is one of the known statuses.
func (s WorkflowStatus) Valid() bool {
	return s == StatusDraft || s == StatusActive || s == StatusInactive
}

// NodeType is the kind of a graph vertex.
type NodeType string

// The node types the engine understands.
const (
	NodeTrigger     NodeType = "trigger"
	NodeExecutor    NodeType = "executor"
	NodeConditional NodeType = "conditional"
	NodeAction      NodeType = "action"
	// Nodes that pause the execution until something outside it happens
	// (docs/waiting.md).
	NodeReview          NodeType = "review"
	NodeWaitForCallback NodeType = "wait_for_callback"
	NodeDelay           NodeType = "delay"
)

// Valid reports whether t is a known node type.
func (t NodeType) Valid() bool {
	switch t {
	case NodeTrigger, NodeExecutor, NodeConditional, NodeAction, NodeReview, NodeWaitForCallback, NodeDelay:
		return true
	}
	return false
}

// Waits reports whether nodes of type t pause the execution.
func (t NodeType) Waits() bool {
	return t == NodeReview || t == NodeWaitForCallback || t == NodeDelay
}

// Node is a vertex of the workflow graph. It is stored as JSON exactly as
// the API shows it, so it carries its JSON names.
type Node struct {
	ID       string         `json:"id"`
	Type     NodeType       `json:"type"`
	Name     string         `json:"name,omitempty"`
	Position Position       `json:"position"`
	Data     map[string]any `json:"data,omitempty"`
}

// Position is where an editor draws the node; the engine ignores it.
type Position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Edge is a directed link between two nodes.
type Edge struct {
	ID           string `json:"id"`
	Source       string `json:"source"`
	Target       string `json:"target"`
	SourceHandle string `json:"sourceHandle,omitempty"`
	Condition    string `json:"condition,omitempty"`
	Label        string `json:"label,omitempty"`
}

// Definition is what a user writes: everything of a workflow but its
// identity, status and bookkeeping.
type Definition struct {
	Name        string
	Description string
	Nodes       []Node
	Edges       []Edge
	Metadata    map[string]any
}

// Workflow is a stored workflow. Revision starts at 1 and every change,
// status transitions included, increments it; writes are conditional on it.
type Workflow struct {
	ID uuid.UUID
	Definition
	Status    WorkflowStatus
	Revision  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Workflow errors with the reference's codes.
var (
	ErrWorkflowNotFound = &Error{Kind: KindNotFound, Code: "FLK-0100", Message: "workflow not found"}
	ErrWorkflowNameUsed = &Error{Kind: KindConflict, Code: "FLK-0101", Message: "workflow name already exists"}
	ErrNotDraft         = &Error{Kind: KindUnprocessable, Code: "FLK-0103", Message: "cannot modify non-draft workflow"}
)

// ErrTransition is the 422 for a status change the state machine forbids.
func ErrTransition(from, to WorkflowStatus) *Error {
	return Errorf(KindUnprocessable, "FLK-0102",
		"invalid workflow status transition: cannot move from %s to %s", from, to)
}

// Transition moves w to status to, enforcing the state machine:
// draft→active (activate), active→inactive (deactivate), inactive→draft.
func (w *Workflow) Transition(to WorkflowStatus, now time.Time) error {
	allowed := map[WorkflowStatus]WorkflowStatus{
		StatusActive:   StatusDraft,
		StatusInactive: StatusActive,
		StatusDraft:    StatusInactive,
	}
	if allowed[to] != w.Status {
		return ErrTransition(w.Status, to)
	}
	w.Status = to
	w.touch(now)
	return nil
}

// Replace swaps in a new definition (PUT). Metadata is merged the way the
// reference does, with JSON merge-patch deletion: a null value removes a key.
func (w *Workflow) Replace(def Definition, now time.Time) error {
	if w.Status != StatusDraft {
		return ErrNotDraft
	}
	def.Metadata = MergeMetadata(w.Metadata, def.Metadata)
	w.Definition = def
	w.touch(now)
	return nil
}

// CheckDeletable refuses deleting an active workflow: it could be running.
func (w *Workflow) CheckDeletable() error {
	if w.Status == StatusActive {
		return ErrNotDraft
	}
	return nil
}

func (w *Workflow) touch(now time.Time) {
	w.Revision++
	w.UpdatedAt = now
}

// NewWorkflow makes a draft at revision 1.
func NewWorkflow(id uuid.UUID, def Definition, now time.Time) *Workflow {
	return &Workflow{ID: id, Definition: def, Status: StatusDraft, Revision: 1, CreatedAt: now, UpdatedAt: now}
}

// MergeMetadata applies a metadata patch the way every resource does: keys
// are merged, and a key sent as null is deleted (JSON merge-patch).
func MergeMetadata(old, patch map[string]any) map[string]any {
	out := make(map[string]any, len(old)+len(patch))
	for k, v := range old {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}
