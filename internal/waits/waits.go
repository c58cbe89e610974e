// Package waits holds the rules of waiting nodes that both the engine and
// the service apply (docs/waiting.md): how a deadline, a decision or a
// callback resolves a wait, and the audit event of each change. Pure: it
// imports only flow and audit.
package waits

import (
	"context"
	"slices"
	"time"

	"flowker/internal/audit"
	"flowker/internal/flow"
)

// The names of the domain (flow), under the names this package's rules use.
const (
	Approve       = flow.ApproveDecision
	TimeoutHandle = flow.TimeoutHandle
)

// Expire resolves an open wait whose due time passed: a review takes its
// default decision, a callback its timeout edge, a delay fires.
func Expire(w *flow.Wait, now time.Time) {
	w.ResolvedAt = &now
	switch w.Kind {
	case flow.NodeReview:
		w.Status, w.Handle = flow.WaitExpired, w.Review.DefaultDecision
		w.Output = reviewOutput(w, w.Handle, true)
	case flow.NodeWaitForCallback:
		w.Status, w.Handle = flow.WaitExpired, TimeoutHandle
		w.Output = map[string]any{"timedOut": true, "dueAt": w.DueAt.Format(time.RFC3339Nano)}
	default:
		w.Status = flow.WaitResolved
		w.Output = map[string]any{"firedAt": now.Format(time.RFC3339Nano), "dueAt": w.DueAt.Format(time.RFC3339Nano)}
	}
}

// Fire resolves an open wait found due, read again under its execution's
// lock. A wait_for_callback whose signal is there (sig non-nil) takes it:
// it was accepted before this moment — early, before the wait's row was
// written, so its delivery found no wait to resolve — and an accepted
// callback wins over the timeout, which a delivery after this moment is
// refused for. Anything else expires (Expire). It reports whether the
// signal resolved the wait.
func Fire(w *flow.Wait, sig *flow.Signal, now time.Time) bool {
	if w.Kind == flow.NodeWaitForCallback && sig != nil {
		Receive(w, sig)
		return true
	}
	Expire(w, now)
	return false
}

// Decide applies a decision just recorded (w.Decisions includes it) and
// reports whether it resolved the review. The rule: an approval counts
// toward requiredApprovals, and the review passes through its "approve"
// edge once that many distinct identities approved; any other decision
// (reject, escalate, …) resolves it at once through its own edge, so one
// rejection stops a four-eyes approval.
func Decide(w *flow.Wait, d flow.Decision) bool {
	if d.Decision == Approve {
		approvals := 0
		for _, x := range w.Decisions {
			if x.Decision == Approve {
				approvals++
			}
		}
		if approvals < w.Review.RequiredApprovals {
			return false
		}
	}
	at := d.DecidedAt
	w.Status, w.Handle, w.ResolvedAt = flow.WaitResolved, d.Decision, &at
	w.Output = reviewOutput(w, d.Decision, false)
	return true
}

// Allowed reports whether decision is one of the review's.
func Allowed(w *flow.Wait, decision string) bool {
	return w.Review != nil && slices.Contains(w.Review.Decisions, decision)
}

func reviewOutput(w *flow.Wait, decision string, expired bool) map[string]any {
	var by []any
	for _, d := range w.Decisions {
		by = append(by, map[string]any{"decision": d.Decision, "comment": d.Comment,
			"actor": map[string]any{"type": d.ActorType, "id": d.ActorID}, "decidedAt": d.DecidedAt.Format(time.RFC3339Nano)})
	}
	if by == nil {
		by = []any{}
	}
	return map[string]any{"decision": decision, "expired": expired, "decisions": by}
}

// Receive resolves an open wait_for_callback with a signal's payload.
func Receive(w *flow.Wait, s *flow.Signal) {
	at := s.ReceivedAt
	w.Status, w.Handle, w.ResolvedAt, w.Output = flow.WaitResolved, "", &at, s.Payload
}

// Event is the audit event of a change to a wait; the actor is the
// caller's (a person, a callback) or, without one, the system.
func Event(ctx context.Context, at time.Time, eventType, action string, w *flow.Wait, meta map[string]any) *audit.Event {
	m := map[string]any{"execution.id": w.ExecutionID.String(), "workflow.id": w.WorkflowID.String(),
		"node.id": w.NodeID, "wait.kind": string(w.Kind)}
	if w.DueAt != nil {
		m["wait.dueAt"] = w.DueAt.Format(time.RFC3339Nano)
	}
	if w.Handle != "" {
		m["wait.handle"] = w.Handle
	}
	for k, v := range meta {
		m[k] = v
	}
	resource := "wait"
	if w.Kind == flow.NodeReview {
		resource = "review"
	}
	return audit.NewEvent(ctx, flow.NewID(), at, eventType, action, "SUCCESS", resource, w.ID.String(), m)
}
