package service_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/store"
	"flowker/internal/store/storetest" //nolint:depguard // a fresh PostgreSQL schema for the test
)

// forgeHash is the chain's published hash (docs/decisions.md, "Audit
// trail": SHA-256 over length-prefixed fields), computed independently of
// package audit: what anyone with the database can compute.
func forgeHash(prev string, id string, at time.Time, tail []string) string {
	if prev == "" {
		prev = "GENESIS"
	}
	var b []byte
	for _, f := range append([]string{prev, id, at.UTC().Format("2006-01-02T15:04:05.000000Z")}, tail...) {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, '|')
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestHuntRetainForgedChainPostgres: docs/decisions.md ("Audit trail",
// immutability) says a database owner can disable the append-only
// triggers, and "verify then finds the change". A database owner who
// changes an event (here: who approved, a review decision's actor) and
// recomputes the hashes of it and of the events after it, with the
// published algorithm, is not found: the chain has no secret, so
// GET /v1/audit-events/{newest}/verify answers isValid: true.
func TestHuntRetainForgedChainPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	st := openPostgres(t, url)
	svc := newTestService(t, st)
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })

	var events []*audit.Event
	for i, actor := range []string{"alice", "bob", "carol"} {
		e := audit.NewEvent(ctx, uuid.New(), time.Date(2026, 5, 1, 0, 0, i, 0, time.UTC), "REVIEW_DECISION", "DECIDE",
			"SUCCESS", "review", uuid.NewString(), map[string]any{"decision": "approve"})
		e.Actor = audit.Actor{Type: "user", ID: actor}
		require.NoError(t, st.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) }))
		events = append(events, e)
	}

	// The database owner rewrites bob's approval as mallory's, and the chain after it.
	_, err = raw.ExecContext(ctx, `ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete`)
	require.NoError(t, err)
	prev := events[0].Hash
	for i, e := range events[1:] {
		actor := e.Actor.ID
		if i == 0 {
			actor = "mallory"
		}
		meta, _ := json.Marshal(e.Metadata)
		h := forgeHash(prev, e.ID.String(), e.Timestamp, []string{e.EventType, e.Action, e.Result, e.ResourceType,
			e.ResourceID, e.Actor.Type, actor, e.Actor.IP, e.RequestID, e.TraceID, string(meta)})
		_, err := raw.ExecContext(ctx, `UPDATE audit_events SET actor_id = $1, previous_hash = $2, hash = $3 WHERE event_id = $4`,
			actor, prev, h, e.ID)
		require.NoError(t, err)
		prev = h
	}
	_, err = raw.ExecContext(ctx, `ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete`)
	require.NoError(t, err)
	got, err := svc.GetAuditEvent(ctx, events[1].ID)
	require.NoError(t, err)
	require.Equal(t, "mallory", got.Actor.ID, "the forgery is stored")

	res, err := svc.VerifyAudit(ctx, events[2].ID, nil)
	require.NoError(t, err)
	require.False(t, res.Valid, "a rewritten approval passes verification: the chain is not keyed")
}
