package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
)

// Tamperer changes a stored audit row behind the store's back (bypassing
// the append-only triggers, as a database owner could).
type Tamperer func(t *testing.T, seq int64, column, value string)

func auditEvent(i int) *audit.Event {
	return &audit.Event{ID: uuid.New(), Timestamp: time.Date(2026, 5, 1, 0, 0, 0, i*1000, time.UTC),
		EventType: "WORKFLOW_UPDATED", Action: "UPDATE", Result: "SUCCESS", ResourceType: "workflow",
		ResourceID: uuid.NewString(), Actor: audit.Actor{Type: "api_key", ID: "ci", IP: "10.0.0.7"},
		RequestID: fmt.Sprintf("req-%d", i), Metadata: map[string]any{"i": float64(i), "name": "wf"}}
}

func verifyAll(t *testing.T, s store.Store) audit.Verification {
	t.Helper()
	v := audit.NewVerifier(s.AuditKey(), 0, "")
	require.NoError(t, s.WalkAudit(context.Background(), 1, 1<<62, v.Check))
	return v.Result()
}

// RunAudit tests the audit trail; second opens another store on the same
// database (another process), tamper alters a row.
func RunAudit(t *testing.T, s, second store.Store, tamper Tamperer, raw *sql.DB) {
	ctx := context.Background()
	var events []*audit.Event
	for i := range 5 {
		e := auditEvent(i)
		require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) }))
		events = append(events, e)
	}
	require.Empty(t, events[0].PreviousHash, "the first event has no previous hash")
	require.Equal(t, events[0].Hash, events[1].PreviousHash)

	got, err := s.GetAudit(ctx, events[0].ID)
	require.NoError(t, err, "the genesis event reads back (the reference failed here)")
	require.Equal(t, *events[0], *got)
	_, err = s.GetAudit(ctx, uuid.New())
	require.ErrorIs(t, err, store.ErrAuditNotFound)

	// On the store itself, outside a transaction: refused, nothing
	// written. Nothing held the chain's lock from the head's read to the
	// insert, and two such appends forked the chain (found by a defect hunt).
	require.ErrorContains(t, s.AppendAudit(ctx, auditEvent(5)), "in the transaction of their change")

	list, err := s.ListAudit(ctx, audit.Filter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 5)
	require.Equal(t, events[4].ID, list[0].ID, "newest first")
	list, err = s.ListAudit(ctx, audit.Filter{Limit: 2, Ascending: true, AfterSeq: events[1].Seq})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{events[2].ID, events[3].ID}, []uuid.UUID{list[0].ID, list[1].ID})
	list, err = s.ListAudit(ctx, audit.Filter{Limit: 10, ResourceID: events[3].ResourceID})
	require.NoError(t, err)
	require.Len(t, list, 1)
	from := events[2].Timestamp
	list, err = s.ListAudit(ctx, audit.Filter{Limit: 10, From: &from, Result: "SUCCESS"})
	require.NoError(t, err)
	require.Len(t, list, 3)

	h, err := s.AuditHashBefore(ctx, events[2].Seq)
	require.NoError(t, err)
	require.Equal(t, events[1].Hash, h)
	require.True(t, verifyAll(t, s).Valid)

	// The database itself refuses changes.
	_, err = raw.ExecContext(ctx, `UPDATE audit_events SET actor_id = 'x' WHERE seq = $1`, events[1].Seq)
	require.ErrorContains(t, err, "append-only")
	_, err = raw.ExecContext(ctx, `DELETE FROM audit_events WHERE seq = $1`, events[1].Seq)
	require.ErrorContains(t, err, "append-only")

	// Concurrent writers in two "processes" leave one unbroken chain.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		st := s
		if i%2 == 1 {
			st = second
		}
		wg.Go(func() {
			e := auditEvent(100 + i)
			errs <- st.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) })
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	res := verifyAll(t, s)
	require.True(t, res.Valid, res.Reason)
	require.Equal(t, 105, res.Checked)

	// A row altered behind the store's back is found, and named.
	tamper(t, events[2].Seq, "resource_id", "tampered")
	res = verifyAll(t, s)
	require.False(t, res.Valid)
	require.Equal(t, events[2].ID, res.FirstInvalid.ID)
	require.Contains(t, res.Reason, "hash mismatch")

	// Its hash and every later one rewritten, each link holding: without
	// the chain's key, the altered row is still the one found.
	prev := events[1].Hash
	var rest []audit.Event
	require.NoError(t, s.WalkAudit(ctx, events[2].Seq, 1<<62, func(e *audit.Event) bool {
		rest = append(rest, *e)
		return true
	}))
	for _, e := range rest {
		e.PreviousHash = prev
		prev = audit.LegacyHash(&e)
		tamper(t, e.Seq, "previous_hash", e.PreviousHash)
		tamper(t, e.Seq, "hash", prev)
	}
	res = verifyAll(t, s)
	require.False(t, res.Valid)
	require.Equal(t, events[2].ID, res.FirstInvalid.ID, res.Reason)
	require.Contains(t, res.Reason, "hash mismatch")
}

func testDashboards(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	for i, st := range []flow.WorkflowStatus{flow.StatusDraft, flow.StatusActive, flow.StatusActive} {
		w := Workflow(fmt.Sprintf("d-%d", i), c.Now())
		w.Status = st
		require.NoError(t, s.CreateWorkflow(ctx, w))
	}
	counts, err := s.CountWorkflowsByStatus(ctx)
	require.NoError(t, err)
	require.Equal(t, map[flow.WorkflowStatus]int64{flow.StatusDraft: 1, flow.StatusActive: 2}, counts)

	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, st := range []flow.ExecutionStatus{flow.ExecCompleted, flow.ExecCompleted, flow.ExecFailed, flow.ExecRunning} {
		e := &flow.Execution{ID: uuid.New(), WorkflowID: uuid.New(), WorkflowRevision: 1, TriggerNodeID: "t",
			Status: st, Input: map[string]any{}, StartedAt: base.Add(time.Duration(i) * time.Hour), UpdatedAt: base}
		require.NoError(t, s.CreateExecution(ctx, e))
	}
	all, err := s.CountExecutionsByStatus(ctx, nil, nil, "")
	require.NoError(t, err)
	require.Equal(t, map[flow.ExecutionStatus]int64{flow.ExecCompleted: 2, flow.ExecFailed: 1, flow.ExecRunning: 1}, all)
	from, to := base.Add(time.Hour), base.Add(2*time.Hour) // inclusive bounds
	window, err := s.CountExecutionsByStatus(ctx, &from, &to, "")
	require.NoError(t, err)
	require.Equal(t, map[flow.ExecutionStatus]int64{flow.ExecCompleted: 1, flow.ExecFailed: 1}, window)
	failed, err := s.CountExecutionsByStatus(ctx, nil, nil, flow.ExecFailed)
	require.NoError(t, err)
	require.Equal(t, map[flow.ExecutionStatus]int64{flow.ExecFailed: 1}, failed)
}

// testAuditMonotonic: an event stamped before the chain head (another
// process's clock, or a wait for the lock) is recorded at the head's time,
// sealed with it, so timestamps never go backwards along the chain.
func testAuditMonotonic(t *testing.T, s store.Store) {
	ctx := context.Background()
	appendEvent := func(e *audit.Event) {
		require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) }))
	}
	late, early, later := auditEvent(50), auditEvent(10), auditEvent(60)
	appendEvent(late)
	appendEvent(early)
	require.Equal(t, late.Timestamp, early.Timestamp, "clamped up to the chain head's timestamp")
	appendEvent(later)
	require.Equal(t, time.Date(2026, 5, 1, 0, 0, 0, 60_000, time.UTC), later.Timestamp, "a later time is kept")

	got, err := s.GetAudit(ctx, early.ID)
	require.NoError(t, err)
	require.Equal(t, *early, *got, "stored as sealed")
	events, err := s.ListAudit(ctx, audit.Filter{Limit: 10, Ascending: true})
	require.NoError(t, err)
	require.Len(t, events, 3)
	for i := 1; i < len(events); i++ {
		require.False(t, events[i].Timestamp.Before(events[i-1].Timestamp), "seq %d", events[i].Seq)
	}
	res := verifyAll(t, s)
	require.True(t, res.Valid, res.Reason)
}

// testAuditAnyText: events whose texts are not ASCII (multi-byte runes,
// which a length prefix counts in bytes; characters JSON escapes), with
// empty fields, many in one transaction (more than one multi-row insert)
// and some stamped before the head, are stored as sealed, and every stored
// hash is the one the store's key gives.
func testAuditAnyText(t *testing.T, s store.Store) {
	ctx := context.Background()
	texts := []string{"", "é", "日本語", "emoji 🙂 and a zero-width joiner \u200d", "<a href=\"x\">&amp;</a>",
		"tab\tnewline\n", "naïve café", "\u2028 line separator"}
	var events []*audit.Event
	for i := range 70 {
		e := auditEvent(1000 - i) // each earlier than the one before: clamped to the head
		txt := texts[i%len(texts)]
		e.ResourceID, e.Actor.ID, e.Actor.IP, e.RequestID, e.TraceID = txt, txt+"-actor", "", txt, ""
		e.Metadata = map[string]any{"text": txt, "nested": map[string]any{"ü": []any{txt, float64(i)}}, "<k>": "&"}
		if i%9 == 0 {
			e.Metadata = nil
		}
		events = append(events, e)
	}
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		for _, e := range events[:66] {
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
		for _, e := range events[66:] {
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}))
	for i, e := range events {
		got, err := s.GetAudit(ctx, e.ID)
		require.NoError(t, err)
		want := *e
		if want.Metadata == nil {
			want.Metadata = map[string]any{} // stored, and hashed, as {}
		}
		require.Equal(t, want, *got, "event %d stored as sealed", i)
		require.Equal(t, s.AuditKey().Hash(got), got.Hash, "event %d", i)
		require.Equal(t, events[0].Timestamp, got.Timestamp, "event %d clamped to the head's time", i)
		if i > 0 {
			require.Equal(t, events[i-1].Hash, got.PreviousHash, "event %d", i)
		}
	}
	res := verifyAll(t, s)
	require.True(t, res.Valid, res.Reason)
	require.Equal(t, 70, res.Checked)
}

// AuditKey seals the audit chains of stores under test.
var AuditKey = audit.NewKey([]byte("storetest: a key for tests alone"))
