package service

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/plan"
	"flowker/internal/secret"
	"flowker/internal/store"
	"flowker/internal/waits"
)

// Reviews, callbacks and signals (docs/waiting.md). Each change takes the
// execution's row first (LockExecution), records itself and its audit
// event, and wakes the execution if it was waiting — leased to this
// process when it has room (then dispatched here at once), else unleased
// for any process's rescuer.

// maxComment bounds a decision's comment.
const maxComment = 2000

// DecideRequest is one analyst's decision on a review.
type DecideRequest struct {
	ReviewID uuid.UUID
	Decision string
	Comment  string
	// MayDecide reports whether the caller may decide reviews of group
	// ("" for reviews without one); the HTTP layer knows the permissions.
	MayDecide func(group string) bool
}

// ListReviews lists review tasks.
func (s *Service) ListReviews(ctx context.Context, f flow.ReviewFilter) (p flow.Page[flow.Wait], err error) {
	ctx, end := s.op(ctx, "query.review.list")
	defer end(&err)
	return s.store.ListReviews(ctx, f)
}

// GetReview returns one review task with its decisions.
func (s *Service) GetReview(ctx context.Context, id uuid.UUID) (w *flow.Wait, err error) {
	ctx, end := s.op(ctx, "query.review.get", trace.WithAttributes(attribute.String("review.id", id.String())))
	defer end(&err)
	if w, err = s.store.GetWait(ctx, id); err == nil && w.Kind != flow.NodeReview {
		return nil, flow.ErrReviewNotFound
	}
	return w, err
}

// Decide records a decision and, when it resolves the review (see
// waits.Decide), lets the execution go on.
func (s *Service) Decide(ctx context.Context, req DecideRequest) (w *flow.Wait, err error) {
	ctx, end := s.op(ctx, "command.review.decide", trace.WithAttributes(attribute.String("review.id", req.ReviewID.String())))
	defer end(&err)
	if len(req.Comment) > maxComment {
		return nil, flow.Invalidf(flow.CodeInvalidBody, "comment cannot exceed %d characters", maxComment)
	}
	actor := audit.FromContext(ctx).Actor
	var resolved bool
	err = s.wake(ctx, func(tx store.Tx, now time.Time) (uuid.UUID, bool, error) {
		resolved = false
		found, err := tx.GetWait(ctx, req.ReviewID)
		if err != nil || found.Kind != flow.NodeReview {
			return uuid.Nil, false, firstErr(err, flow.ErrReviewNotFound)
		}
		if req.MayDecide != nil && !req.MayDecide(found.Review.Group) {
			return uuid.Nil, false, &flow.Error{Kind: flow.KindForbidden, Code: "FORBIDDEN",
				Message: "missing permission reviews:decide:" + found.Review.Group + " for this review's group"}
		}
		if !waits.Allowed(found, req.Decision) {
			return uuid.Nil, false, flow.Invalidf(flow.CodeInvalidBody, "decision must be one of %v", found.Review.Decisions)
		}
		ex, err := tx.LockExecution(ctx, found.ExecutionID, false)
		if err != nil {
			return uuid.Nil, false, err
		}
		if w, err = tx.GetWait(ctx, req.ReviewID); err != nil { // again, under the execution's lock
			return uuid.Nil, false, err
		}
		if !w.OpenAt(now) || ex.Status.Terminal() {
			return uuid.Nil, false, flow.ErrReviewClosed
		}
		d := flow.Decision{Decision: req.Decision, Comment: req.Comment, ActorType: actor.Type, ActorID: actor.ID, DecidedAt: now}
		if err := tx.AddDecision(ctx, w.ID, d); err != nil {
			return uuid.Nil, false, err
		}
		w.Decisions = append(w.Decisions, d)
		resolved = waits.Decide(w, d)
		if resolved {
			if _, err := tx.ResolveWait(ctx, w); err != nil {
				return uuid.Nil, false, err
			}
		}
		meta := map[string]any{"decision": req.Decision, "resolved": resolved,
			"approvals.required": w.Review.RequiredApprovals}
		if req.Comment != "" {
			meta["comment"] = req.Comment
		}
		if err := tx.AppendAudit(ctx, waits.Event(ctx, now, audit.ReviewDecision, "DECIDE", w, meta)); err != nil {
			return uuid.Nil, false, err
		}
		return ex.ID, resolved, nil
	})
	if err != nil {
		return nil, err
	}
	if resolved && s.metrics != nil {
		s.metrics.ReviewDecided(ctx, w.ResolvedAt.Sub(w.CreatedAt))
	}
	return w, nil
}

// Callback delivers a payload by a wait_for_callback node's token. The
// caller is recorded as the callback itself: the token is its credential.
func (s *Service) Callback(ctx context.Context, token string, payload any) (err error) {
	ctx, end := s.op(ctx, "command.execution.callback")
	defer end(&err)
	execID, ok := secret.CallbackExecution(token)
	if !ok {
		return flow.ErrCallbackToken
	}
	ex, err := s.store.GetExecution(ctx, execID)
	if flow.KindOf(err) == flow.KindNotFound {
		return flow.ErrCallbackToken
	} else if err != nil {
		return err
	}
	p, err := s.executionPlan(ctx, s.store, ex)
	if err != nil {
		return err
	}
	for _, n := range p.Callbacks {
		if s.box.CallbackFor(token, execID, n.ID) {
			req := audit.FromContext(ctx)
			req.Actor.Type, req.Actor.ID = "callback", n.ID
			return s.signal(audit.WithRequest(ctx, req), ex, p, n.Wait.Signal, payload, "callback")
		}
	}
	return flow.ErrCallbackToken
}

// Signal delivers a payload to an execution's wait_for_callback node by
// its signal name.
func (s *Service) Signal(ctx context.Context, execID uuid.UUID, name string, payload any) (err error) {
	ctx, end := s.op(ctx, "command.execution.signal", executionAttr(execID))
	defer end(&err)
	ex, err := s.store.GetExecution(ctx, execID)
	if err != nil {
		return err
	}
	p, err := s.executionPlan(ctx, s.store, ex)
	if err != nil {
		return err
	}
	return s.signal(ctx, ex, p, name, payload, "api")
}

// signal delivers to ex, read before (its revision, hence p, never
// changes; its status is read again under the row's lock).
func (s *Service) signal(ctx context.Context, ex *flow.Execution, p *plan.Plan, name string, payload any, source string) error {
	actor := audit.FromContext(ctx).Actor
	execID := ex.ID
	return s.wake(ctx, func(tx store.Tx, now time.Time) (uuid.UUID, bool, error) {
		ex, err := tx.LockExecution(ctx, execID, false)
		if err != nil {
			return uuid.Nil, false, err
		}
		n := p.SignalNode(name)
		if n == nil { // unknown whatever the status: a finished execution does not make a typo "too late"
			return uuid.Nil, false, flow.ErrSignalUnknown
		}
		if ex.Status.Terminal() {
			return uuid.Nil, false, lateOrRepeated(ctx, tx, execID, name)
		}
		all, err := tx.ListWaits(ctx, execID)
		if err != nil {
			return uuid.Nil, false, err
		}
		var open *flow.Wait
		for i := range all {
			switch w := &all[i]; {
			case w.NodeID != n.ID || w.Status == flow.WaitCancelled:
			case w.OpenAt(now):
				open = w
			case w.Status == flow.WaitResolved: // by this signal, delivered before
				return uuid.Nil, false, flow.ErrSignalUsed
			default: // its timeout passed: expired, or due and not fired yet
				return uuid.Nil, false, flow.ErrSignalLate
			}
		}
		sig := &flow.Signal{ExecutionID: execID, Name: name, Payload: payload, Source: source,
			ActorType: actor.Type, ActorID: actor.ID, ReceivedAt: now}
		if err := tx.AddSignal(ctx, sig); err != nil {
			return uuid.Nil, false, err
		}
		event := waits.Event(ctx, now, audit.SignalReceived, "SIGNAL",
			&flow.Wait{ID: uuid.Nil, ExecutionID: execID, WorkflowID: ex.WorkflowID, NodeID: n.ID, Kind: n.Type},
			map[string]any{"signal": name, "source": source, "early": open == nil})
		if open != nil {
			waits.Receive(open, sig)
			if _, err := tx.ResolveWait(ctx, open); err != nil {
				return uuid.Nil, false, err
			}
			event.ResourceID = open.ID.String()
		}
		if err := tx.AppendAudit(ctx, event); err != nil {
			return uuid.Nil, false, err
		}
		return execID, open != nil, nil
	})
}

// lateOrRepeated is the refusal of a signal to a finished execution: a
// repeat of one it received (FLK-0525, so a provider retrying a callback
// learns it was delivered) or one that came too late (FLK-0526).
func lateOrRepeated(ctx context.Context, tx store.Tx, execID uuid.UUID, name string) error {
	received, err := tx.ListSignals(ctx, execID)
	if err != nil {
		return err
	}
	for i := range received {
		if received[i].Name == name {
			return flow.ErrSignalUsed
		}
	}
	return flow.ErrSignalLate
}

// wake records a change that may resolve a wait through the engine,
// which wakes the execution in the same transaction (Engine.Wake).
func (s *Service) wake(ctx context.Context, change func(tx store.Tx, now time.Time) (uuid.UUID, bool, error)) error {
	if s.engine == nil {
		return flow.ErrQueueFull // as a start: nothing here can run the execution on
	}
	return s.engine.Wake(ctx, change)
}

// cancelWaits closes the open waits of an execution being cancelled.
func (s *Service) cancelWaits(ctx context.Context, tx store.Tx, ex *flow.Execution) error {
	closed, err := tx.CancelWaits(ctx, ex.ID, s.now())
	if err != nil {
		return err
	}
	for i := range closed {
		if err := tx.AppendAudit(ctx, waits.Event(ctx, s.now(), audit.WaitCancelled, "CANCEL", &closed[i], nil)); err != nil {
			return err
		}
	}
	return nil
}

// executionPlan compiles the revision an execution runs (node data stays
// sealed: only the graph and the waits' configuration are read).
func (s *Service) executionPlan(ctx context.Context, tx store.Tx, ex *flow.Execution) (*plan.Plan, error) {
	v, err := tx.GetWorkflowVersion(ctx, ex.WorkflowID, ex.WorkflowRevision)
	if err != nil {
		return nil, err
	}
	return plan.Compile(v.Definition)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
