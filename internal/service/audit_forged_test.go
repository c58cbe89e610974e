package service_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// A row inserted below the chain's first sequence (the stores' triggers
// refuse only updates and deletes, so the application's own database user
// can INSERT one with seq 0) is listed by the trail like any event: verify
// reads it too, and names it. It walked from sequence 1, so a forged
// review approval verified, and verifying the forged event itself walked
// nothing and answered invalid naming no event, which the handler read as
// nil: a 500 (found by a defect hunt).
func TestVerifyReadsARowInsertedBelowTheChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forge := `INSERT INTO audit_events (seq, event_id, occurred_at, event_type, action, result, resource_type,
		resource_id, actor_type, actor_id, actor_ip, request_id, trace_id, metadata, previous_hash, hash)
		VALUES (0, $1, $2, 'REVIEW_DECISION', 'DECIDE', 'SUCCESS', 'review', $3, 'user', 'alice', '', '', '',
		'{"decision":"approve"}', '', '0000')`
	check := func(t *testing.T, svc *service.Service, raw *sql.DB, at any) {
		createWorkflows(t, svc, "one", "two")
		_, err := raw.ExecContext(ctx, forge, uuid.NewString(), at, uuid.NewString())
		require.NoError(t, err, "a plain INSERT, the triggers allow it")

		all, err := svc.ListAuditEvents(ctx, audit.Filter{Limit: 10, Ascending: true})
		require.NoError(t, err)
		require.Len(t, all, 3)
		require.Equal(t, "REVIEW_DECISION", all[0].EventType, "the forged event is listed as the chain's first")
		res, err := svc.VerifyAudit(ctx, all[2].ID, nil)
		require.NoError(t, err)
		require.False(t, res.Valid, "a forged event with seq 0 is in the trail, yet verify of the head passes "+
			"(checked %d of %d stored events)", res.Checked, len(all))
		require.Equal(t, all[0].ID, res.FirstInvalid.ID, res.Reason)
		require.Contains(t, res.Reason, "below the chain's first")
		res, err = svc.VerifyAudit(ctx, all[0].ID, nil)
		require.NoError(t, err)
		require.False(t, res.Valid)
		require.NotNil(t, res.FirstInvalid, "verify of the forged event names no invalid event (checked %d)", res.Checked)
		require.Equal(t, all[0].ID, res.FirstInvalid.ID)
	}
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		_, svc, raw := ownedPostgres(t)
		check(t, svc, raw, "2026-01-01T00:00:00Z")
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "flowker.db")
		st, err := sqlite.Open(ctx, path, "NORMAL")
		require.NoError(t, err)
		st.UseAuditKey(storetest.AuditKey)
		t.Cleanup(func() { _ = st.Close() })
		raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		require.NoError(t, err)
		t.Cleanup(func() { _ = raw.Close() })
		check(t, newTestService(t, st), raw, "2026-01-01T00:00:00.000000Z")
	})
}

// Verify from an event names such a row too, and blames no intact event:
// read as the chain's marker (the first AUDIT_CHAIN_KEYED row) and as the
// hash before the first event, it made verify from an intact upgraded
// chain's first event report "chain break" there, and from its second
// "changed after it was recorded" (found by a review).
func TestVerifyFromNamesARowBelowTheChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, svc, raw := ownedPostgres(t)
	insertUnkeyed(t, raw, 3)
	require.NoError(t, svc.KeyAuditChain(ctx, newestHash(t, svc))) // the marker, seq 4
	for _, name := range []string{"one", "two"} {
		_, err := svc.CreateWorkflow(ctx, flow.Definition{Name: name, Nodes: []flow.Node{{ID: "t", Type: flow.NodeTrigger}}})
		require.NoError(t, err)
	}
	all, err := svc.ListAuditEvents(ctx, audit.Filter{Limit: 10, Ascending: true})
	require.NoError(t, err)
	require.Len(t, all, 6)
	head := all[5]
	res, err := svc.VerifyAudit(ctx, head.ID, &all[0].ID)
	require.NoError(t, err)
	require.True(t, res.Valid, "the intact chain verifies from its first event: %s", res.Reason)

	// A plain INSERT by the application's user, below the chain.
	forged := uuid.New()
	_, err = raw.ExecContext(ctx, `INSERT INTO audit_events (seq, event_id, occurred_at, event_type, action, result,
		resource_type, resource_id, actor_type, actor_id, actor_ip, request_id, trace_id, metadata, previous_hash, hash)
		VALUES (0, $1, '2026-01-01T00:00:00Z', $2, 'CONFIGURE', 'SUCCESS', 'audit_chain', 'audit_events', 'system',
		'flowker', '', '', '', '{}', '', 'ffff')`, forged, audit.KeyedEventType)
	require.NoError(t, err)

	for _, from := range []audit.Event{all[0], all[1]} {
		res, err := svc.VerifyAudit(ctx, head.ID, &from.ID)
		require.NoError(t, err)
		require.False(t, res.Valid)
		require.Equal(t, forged, res.FirstInvalid.ID,
			"verify from intact event seq %d names intact event seq %d as broken (%q); the row inserted below "+
				"the chain, outside the range, misled it", from.Seq, res.FirstInvalid.Seq, res.Reason)
	}
}
