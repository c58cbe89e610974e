package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
)

// Resource types of audit events.
const (
	resWorkflow       = "workflow"
	resProviderConfig = "provider_config"
	resExecutorConfig = "executor_config"
	resExecution      = "execution"
)

// record appends an audit event for a change, in the change's transaction:
// no change without its event, no event without its change.
func (s *Service) record(ctx context.Context, tx store.Tx, eventType, action, resourceType, resourceID string,
	meta map[string]any) error {
	return tx.AppendAudit(ctx, s.auditEvent(ctx, eventType, action, "SUCCESS", resourceType, resourceID, meta))
}

func (s *Service) auditEvent(ctx context.Context, eventType, action, result, resourceType, resourceID string,
	meta map[string]any) *audit.Event {
	return audit.NewEvent(ctx, s.newID(), s.now(), eventType, action, result, resourceType, resourceID, meta)
}

// GetAuditEvent returns one event by its id.
func (s *Service) GetAuditEvent(ctx context.Context, id uuid.UUID) (e *audit.Event, err error) {
	ctx, end := s.op(ctx, "query.audit.get")
	defer end(&err)
	return s.store.GetAudit(ctx, id)
}

// ListAuditEvents returns a page of events, newest first unless ascending.
func (s *Service) ListAuditEvents(ctx context.Context, f audit.Filter) (events []audit.Event, err error) {
	ctx, end := s.op(ctx, "query.audit.list")
	defer end(&err)
	return s.store.ListAudit(ctx, f)
}

// VerifyAudit recomputes every hash from the start of the chain (or from
// the event fromID) up to and including the event toID, and names the
// first event that breaks the chain.
func (s *Service) VerifyAudit(ctx context.Context, toID uuid.UUID, fromID *uuid.UUID) (res audit.Verification, err error) {
	ctx, end := s.op(ctx, "query.audit.verify")
	defer end(&err)
	to, err := s.store.GetAudit(ctx, toID)
	if err != nil {
		return res, err
	}
	// A row below the first sequence, which the triggers let an INSERT
	// add, is no event of the chain: named first, whatever is verified.
	// Walked past, it was listed by the trail and read by nothing that
	// verifies; with from, read as the marker or the hash before, it made
	// an intact event look broken (found by defect hunts).
	if lowest, err := s.store.ListAudit(ctx, audit.Filter{Ascending: true, Limit: 1}); err != nil {
		return res, err
	} else if len(lowest) > 0 && lowest[0].Seq < audit.FirstSeq {
		v := audit.NewVerifier(s.store.AuditKey(), 0, "")
		v.Check(&lowest[0])
		return v.Result(), nil
	}
	fromSeq, prev := int64(audit.FirstSeq), ""
	if fromID != nil {
		from, err := s.store.GetAudit(ctx, *fromID)
		if err != nil {
			return res, err
		}
		if from.Seq > to.Seq {
			return res, flow.Invalidf(flow.CodeInvalidQuery, "from must be an event recorded before the verified one")
		}
		fromSeq = from.Seq
		if prev, err = s.store.AuditHashBefore(ctx, from.Seq); err != nil {
			return res, err
		}
	}
	keyedFrom, err := s.keyedFrom(ctx)
	if err != nil {
		return res, err
	}
	// Events before the first marker verify unkeyed, which anyone can
	// compute: only the marker's keyed hash proves them, and a row merely
	// typed as a marker proves nothing. So the walk always goes on through
	// it (found by a defect hunt: a forged marker made a rewritten chain
	// verify).
	v := audit.NewVerifier(s.store.AuditKey(), keyedFrom, prev)
	var upTo audit.Verification
	reached := false
	err = s.store.WalkAudit(ctx, fromSeq, max(to.Seq, keyedFrom), func(e *audit.Event) bool {
		ok := v.Check(e)
		if e.Seq == to.Seq {
			upTo, reached = v.Result(), true
		}
		return ok
	})
	if err != nil {
		return res, err
	}
	if res = v.Result(); res.Valid && reached {
		return upTo, nil // counted up to the event asked for
	} else if res.Valid { // read before the walk, not met by it: the chain lost it
		return audit.Verification{FirstInvalid: to, Checked: res.Checked,
			Reason: "the event is not in the chain: it was removed while the chain was read"}, nil
	}
	if res.FirstInvalid.Seq > to.Seq {
		res.Reason = "the events up to the verified one are recorded unkeyed and proven only by the " +
			audit.KeyedEventType + " event after them, which does not verify: " + res.Reason
	}
	return res, nil
}

// WorkflowSummary counts workflows by status.
func (s *Service) WorkflowSummary(ctx context.Context) (m map[flow.WorkflowStatus]int64, err error) {
	ctx, end := s.op(ctx, "query.dashboard.workflows")
	defer end(&err)
	return s.store.CountWorkflowsByStatus(ctx)
}

// ExecutionSummary counts executions by status, started within [from, to].
func (s *Service) ExecutionSummary(ctx context.Context, from, to *time.Time, status flow.ExecutionStatus) (m map[flow.ExecutionStatus]int64, err error) {
	ctx, end := s.op(ctx, "query.dashboard.executions")
	defer end(&err)
	return s.store.CountExecutionsByStatus(ctx, from, to, status)
}

// ExecutionSlots counts executions started in [from, to), of one workflow
// unless workflowID is nil, by flow.SlotWidth UTC slot and status; callers
// fold the slots into the hours or days of their time zone.
func (s *Service) ExecutionSlots(ctx context.Context, from, to time.Time, workflowID *uuid.UUID) (slots []flow.SlotCount, err error) {
	ctx, end := s.op(ctx, "query.dashboard.executions.series")
	defer end(&err)
	return s.store.CountExecutionsBySlot(ctx, from, to, workflowID)
}

// ErrAuditHeadUnverified: the chain's newest event is sealed neither with
// this process's key nor the legacy way (KeyAuditChain).
var ErrAuditHeadUnverified = errors.New("the audit chain's newest event verifies under neither this key " +
	"nor the unkeyed hash: FLOWKER_SECRET_KEY is not the one that sealed it, or the chain was altered " +
	"(GET /v1/audit-events/{id}/verify names the first event that breaks it)")

// Audit vocabulary of the chain's own event.
const (
	actionKeyChain = "CONFIGURE"
	resAuditChain  = "audit_chain"
)

// ErrAuditChainUnkeyed: the chain's newest event is sealed the unkeyed
// way and no audit.KeyedEventType event marks where keying began, and the
// start was not told to seal it (KeyAuditChain): the error names that
// event.
var ErrAuditChainUnkeyed = errors.New("the audit chain is recorded unkeyed, with no " + audit.KeyedEventType +
	" event: by a version before the chain was keyed, or rewritten without the key")

// KeyAuditChain runs at start, before anything else is audited. A head
// this process's key sealed: nothing to do. A chain recorded before the
// chain was keyed (its newest event sealed the unkeyed way, and no
// audit.KeyedEventType event) gets that event when sealHead is its newest
// event's hash: the events after it are keyed, and its own hash covers the
// unkeyed prefix. Otherwise it is ErrAuditChainUnkeyed, naming that hash,
// and nothing is appended: whoever holds the database but not the key can
// make a keyed chain look exactly like one recorded before keying —
// rewritten with the unkeyed hash — and marking it on its own at a start
// sealed the forgery, which verified from then on (found by a review).
// Only the operator can tell the two apart, against the heads the logs
// hold, and the hash they give seals the chain they checked, not whatever
// a later start finds (a setting left behind). Processes that start
// together may each add one marker; the first is the boundary, the others
// are keyed events like any other. Any other head is
// ErrAuditHeadUnverified.
func (s *Service) KeyAuditChain(ctx context.Context, sealHead string) error {
	head, err := s.auditHead(ctx)
	if err != nil || head == nil || head.Hash == s.store.AuditKey().Hash(head) {
		return err
	}
	from, err := s.keyedFrom(ctx)
	if err != nil {
		return err
	}
	if from > 0 {
		// Marked: after the marker every event is keyed. Read the head
		// again: another process starting at once may have marked the
		// chain since it was read (found by a review: reported as sealed
		// by another key).
		if head, err = s.auditHead(ctx); err != nil || head.Hash == s.store.AuditKey().Hash(head) {
			return err
		}
		return ErrAuditHeadUnverified
	}
	switch {
	case head.Hash != audit.LegacyHash(head):
		return ErrAuditHeadUnverified
	case sealHead != head.Hash:
		return fmt.Errorf("%w. Its newest event is %s (sequence %d, hash %s): check it against the heads "+
			"your logs hold (audit.head) or your last export, then start once with AUDIT_SEAL_UNKEYED_CHAIN=%s "+
			"to seal the chain up to it", ErrAuditChainUnkeyed, head.ID, head.Seq, head.Hash, head.Hash)
	}
	return s.store.InTx(ctx, func(tx store.Tx) error {
		return s.record(ctx, tx, audit.KeyedEventType, actionKeyChain, resAuditChain, "audit_events",
			map[string]any{"unkeyedEvents": head.Seq, "unkeyedHead": head.Hash})
	})
}

// auditHead is the chain's newest event (nil for an empty chain).
func (s *Service) auditHead(ctx context.Context) (*audit.Event, error) {
	newest, err := s.store.ListAudit(ctx, audit.Filter{Limit: 1})
	if err != nil || len(newest) == 0 {
		return nil, err
	}
	return &newest[0], nil
}

// keyedFrom is the sequence from which the chain is keyed: its first
// audit.KeyedEventType event's, or 0 when it has none (keyed throughout).
func (s *Service) keyedFrom(ctx context.Context) (int64, error) {
	marked, err := s.store.ListAudit(ctx, audit.Filter{EventType: audit.KeyedEventType, Ascending: true, Limit: 1})
	if err != nil || len(marked) == 0 {
		return 0, err
	}
	return marked[0].Seq, nil
}
