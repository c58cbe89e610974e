package service_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store/faultstore" //nolint:depguard // interleaves two starts
	"flowker/internal/store/storetest"
)

// ownedPostgres is a service on a fresh PostgreSQL schema and a plain pool
// on it, for what the database's owner does behind the service's back.
func ownedPostgres(t *testing.T) (url string, svc *service.Service, raw *sql.DB) {
	t.Helper()
	url = storetest.PostgresURL(t)
	svc = newTestService(t, openPostgres(t, url))
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	return url, svc, raw
}

// insertUnkeyed appends events behind the store's back, sealed with the
// unkeyed hash as versions before the keyed chain did.
func insertUnkeyed(t *testing.T, raw *sql.DB, n int) {
	t.Helper()
	prev := ""
	for i := range n {
		e := &audit.Event{ID: uuid.New(), Timestamp: time.Date(2026, 11, 1, 0, 0, i, 0, time.UTC),
			EventType: "WORKFLOW_CREATED", Action: "CREATE", Result: "SUCCESS", ResourceType: "workflow",
			ResourceID: uuid.NewString(), Actor: audit.Actor{Type: "api_key", ID: "ci"}, PreviousHash: prev}
		e.Hash = audit.LegacyHash(e)
		_, err := raw.ExecContext(context.Background(), `INSERT INTO audit_events (event_id, occurred_at, event_type, action, result, resource_type,
			resource_id, actor_type, actor_id, actor_ip, request_id, trace_id, metadata, previous_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', '', '', '{}', $10, $11)`, e.ID, e.Timestamp, e.EventType,
			e.Action, e.Result, e.ResourceType, e.ResourceID, e.Actor.Type, e.Actor.ID, prev, e.Hash)
		require.NoError(t, err)
		prev = e.Hash
	}
}

// ownerRewrites sets a column of the row at seq, as the database's owner
// can: the append-only trigger disabled.
func ownerRewrites(t *testing.T, raw *sql.DB, seq int64, column string, value any) {
	t.Helper()
	_, err := raw.ExecContext(context.Background(), `ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete`)
	require.NoError(t, err)
	_, err = raw.ExecContext(context.Background(), `UPDATE audit_events SET `+column+` = $1 WHERE seq = $2`, value, seq)
	require.NoError(t, err)
}

// rehashUnkeyed rewrites events[from:to], in place and in the database, as
// the database's owner without the key can: each linked to the one before
// it and hashed unkeyed.
func rehashUnkeyed(t *testing.T, raw *sql.DB, events []audit.Event, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if i > 0 {
			events[i].PreviousHash = events[i-1].Hash
		}
		events[i].Hash = audit.LegacyHash(&events[i])
		ownerRewrites(t, raw, events[i].Seq, "previous_hash", events[i].PreviousHash)
		ownerRewrites(t, raw, events[i].Seq, "hash", events[i].Hash)
	}
}

// TestAuditChainKeyedAfterAnUpgrade: a chain recorded unkeyed by an
// earlier version gets its marker at the first start (once, whichever
// process starts), and verifies with the keyed events after it. Then the
// database's owner rewrites an unkeyed event and every unkeyed hash after
// it: the marker's keyed hash no longer holds. Deleting the marker makes
// the whole chain keyed, and the first unkeyed event fails. A process
// with another key is told the chain's head does not verify.
func TestAuditChainKeyedAfterAnUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, svc, raw := ownedPostgres(t)
	other := newTestService(t, openPostgres(t, url)) // a second process, started at once
	insertUnkeyed(t, raw, 3)

	// Not without the operator's word: such a chain looks exactly like a
	// keyed one rewritten without the key.
	unkeyed := newestHash(t, svc)
	err := svc.KeyAuditChain(ctx, "")
	require.ErrorIs(t, err, service.ErrAuditChainUnkeyed)
	require.Contains(t, err.Error(), "AUDIT_SEAL_UNKEYED_CHAIN="+unkeyed, "names the value that seals it")
	require.ErrorIs(t, svc.KeyAuditChain(ctx, strings.Repeat("0", 64)), service.ErrAuditChainUnkeyed,
		"a hash that is not the newest event's seals nothing: the chain checked, no other")
	marks, err := svc.ListAuditEvents(ctx, audit.Filter{EventType: audit.KeyedEventType, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, marks, "nothing appended")

	require.NoError(t, svc.KeyAuditChain(ctx, unkeyed))
	require.NoError(t, other.KeyAuditChain(ctx, unkeyed), "the chain has its marker")
	require.NoError(t, svc.KeyAuditChain(ctx, unkeyed), "a setting left behind seals nothing more")
	marks, err = svc.ListAuditEvents(ctx, audit.Filter{EventType: audit.KeyedEventType, Limit: 10})
	require.NoError(t, err)
	require.Len(t, marks, 1)
	marker := marks[0]
	require.Equal(t, int64(4), marker.Seq)
	require.Equal(t, map[string]any{"unkeyedEvents": float64(3), "unkeyedHead": marker.PreviousHash}, marker.Metadata)

	_, err = svc.CreateWorkflow(ctx, flow.Definition{Name: "after", Nodes: []flow.Node{{ID: "t", Type: flow.NodeTrigger}}})
	require.NoError(t, err)
	head, err := svc.ListAuditEvents(ctx, audit.Filter{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, storetest.AuditKey.Hash(&head[0]), head[0].Hash, "events after the marker are keyed")
	res, err := svc.VerifyAudit(ctx, head[0].ID, nil)
	require.NoError(t, err)
	require.True(t, res.Valid, res.Reason)
	require.Equal(t, 5, res.Checked)
	// A process with another key says so, marker or not: it returned early
	// on a marked chain (found by a defect hunt).
	wrong := openPostgres(t, url)
	wrong.UseAuditKey(audit.NewKey([]byte("another deployment's key")))
	require.ErrorIs(t, newTestService(t, wrong).KeyAuditChain(ctx, ""), service.ErrAuditHeadUnverified)
	require.NoError(t, svc.KeyAuditChain(ctx, ""), "its own key seals the head")

	// The owner changes the second unkeyed event and rehashes the prefix.
	all, err := svc.ListAuditEvents(ctx, audit.Filter{Limit: 10, Ascending: true})
	require.NoError(t, err)
	all[1].ResourceID = "rewritten"
	ownerRewrites(t, raw, 2, "resource_id", "rewritten")
	rehashUnkeyed(t, raw, all, 1, 3)
	ownerRewrites(t, raw, marker.Seq, "previous_hash", all[2].Hash)
	res, err = svc.VerifyAudit(ctx, head[0].ID, nil)
	require.NoError(t, err)
	require.False(t, res.Valid)
	require.Equal(t, marker.ID, res.FirstInvalid.ID, res.Reason)

	_, err = raw.ExecContext(context.Background(), `DELETE FROM audit_events WHERE seq = $1`, marker.Seq)
	require.NoError(t, err)
	res, err = svc.VerifyAudit(ctx, head[0].ID, nil)
	require.NoError(t, err)
	require.False(t, res.Valid)
	require.Equal(t, all[0].ID, res.FirstInvalid.ID, "without its marker the chain is keyed throughout")

	st := openPostgres(t, url)
	st.UseAuditKey(audit.NewKey([]byte("another deployment's key")))
	require.ErrorIs(t, newTestService(t, st).KeyAuditChain(ctx, ""), service.ErrAuditHeadUnverified)
}

// TestAuditChainKeyedFromTheStart: a new database needs no marker, and a
// chain keyed from its first event gets none.
func TestAuditChainKeyedFromTheStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := newTestService(t, openSQLite(t))
	require.NoError(t, svc.KeyAuditChain(ctx, ""))
	_, err := svc.CreateWorkflow(ctx, flow.Definition{Name: "first", Nodes: []flow.Node{{ID: "t", Type: flow.NodeTrigger}}})
	require.NoError(t, err)
	require.NoError(t, svc.KeyAuditChain(ctx, ""))
	events, err := svc.ListAuditEvents(ctx, audit.Filter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "WORKFLOW_CREATED", events[0].EventType)
	res, err := svc.VerifyAudit(ctx, events[0].ID, nil)
	require.NoError(t, err)
	require.True(t, res.Valid, res.Reason)
}

// TestVerifyIgnoresARowMerelyTypedAsTheMarker: a chain keyed from its
// first event. Whoever holds the database but not the key changes an
// event, recomputes it and every later hash with the unkeyed SHA-256, and
// inserts one row typed AUDIT_CHAIN_KEYED after the head. Verify took the
// first such row as where the keyed part starts without checking it, so
// the rewritten events verified unkeyed (found by a defect hunt); now the
// walk goes on through the marker, whose hash is not the key's.
func TestVerifyIgnoresARowMerelyTypedAsTheMarker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, svc, raw := ownedPostgres(t)

	require.NoError(t, svc.KeyAuditChain(ctx, ""))
	all := createWorkflows(t, svc, "one", "two", "three")
	for i := range all {
		require.Equal(t, storetest.AuditKey.Hash(&all[i]), all[i].Hash, "keyed from the first event")
	}
	head := all[2]
	res, err := svc.VerifyAudit(ctx, head.ID, nil)
	require.NoError(t, err)
	require.True(t, res.Valid, res.Reason)

	// The owner, without the key: event 2 changed, every event rehashed
	// unkeyed (SHA-256 needs no key).
	all[1].ResourceID = "forged"
	ownerRewrites(t, raw, all[1].Seq, "resource_id", "forged")
	rehashUnkeyed(t, raw, all, 0, 3)
	// A row merely typed as the marker, after the head; its hash is junk.
	_, err = raw.ExecContext(ctx, `INSERT INTO audit_events (event_id, occurred_at, event_type, action, result, resource_type,
		resource_id, actor_type, actor_id, actor_ip, request_id, trace_id, metadata, previous_hash, hash)
		VALUES ($1, now(), $2, 'CONFIGURE', 'SUCCESS', 'audit_chain', 'audit_events', 'system', 'flowker', '', '', '', '{}', $3, $4)`,
		uuid.New(), audit.KeyedEventType, all[2].Hash, "00")
	require.NoError(t, err)

	for _, e := range []audit.Event{all[1], head} {
		res, err = svc.VerifyAudit(ctx, e.ID, nil)
		require.NoError(t, err)
		require.False(t, res.Valid, "verify of event %d passes on a chain rewritten without the key (checked %d)",
			e.Seq, res.Checked)
		require.Contains(t, res.Reason, "proven only by the "+audit.KeyedEventType)
	}
}

// TestVerifyOfTheUnkeyedPrefixReachesTheMarker: a chain recorded unkeyed,
// then marked at the first start. The owner rewrites an unkeyed event and
// every unkeyed hash after it. Verifying an event of the prefix stopped
// before the marker, whose keyed hash is what proves the prefix, and
// passed (found by a defect hunt).
func TestVerifyOfTheUnkeyedPrefixReachesTheMarker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, svc, raw := ownedPostgres(t)
	insertUnkeyed(t, raw, 3)
	require.NoError(t, svc.KeyAuditChain(ctx, newestHash(t, svc)))
	all, err := svc.ListAuditEvents(ctx, audit.Filter{Limit: 10, Ascending: true})
	require.NoError(t, err)
	require.Len(t, all, 4)
	require.Equal(t, audit.KeyedEventType, all[3].EventType)

	all[1].ResourceID = "rewritten"
	ownerRewrites(t, raw, all[1].Seq, "resource_id", "rewritten")
	rehashUnkeyed(t, raw, all, 1, 3)
	res, err := svc.VerifyAudit(ctx, all[3].ID, nil)
	require.NoError(t, err)
	require.False(t, res.Valid, "the marker no longer links")

	res, err = svc.VerifyAudit(ctx, all[2].ID, nil)
	require.NoError(t, err)
	require.False(t, res.Valid, "verify of the last unkeyed event passes although the prefix was rewritten (checked %d)",
		res.Checked)
}

// A chain keyed from its first event (no marker), rewritten by the
// database's owner without the key — one event changed, every hash
// recomputed the unkeyed way — looks exactly like a chain recorded before
// keying. A start no longer seals it on its own: it is
// ErrAuditChainUnkeyed, nothing appended, and verify still fails. It
// marked it, and from then on the forgery verified (found by a review).
func TestStartDoesNotSealAChainRewrittenUnkeyed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, svc, raw := ownedPostgres(t)
	require.NoError(t, svc.KeyAuditChain(ctx, "")) // empty: keyed from the first event, no marker
	all := createWorkflows(t, svc, "one", "two", "three")

	// The owner, without the key: event 2 changed, the chain rehashed unkeyed.
	all[1].ResourceID = "forged"
	ownerRewrites(t, raw, all[1].Seq, "resource_id", "forged")
	rehashUnkeyed(t, raw, all, 0, 3)
	res, err := svc.VerifyAudit(ctx, all[2].ID, nil)
	require.NoError(t, err)
	require.False(t, res.Valid, "before the restart the forgery is found")

	// The next start.
	restarted := newTestService(t, openPostgres(t, url))
	err = restarted.KeyAuditChain(ctx, "")
	require.ErrorIs(t, err, service.ErrAuditChainUnkeyed, "the start sealed a chain rewritten without the key")
	res, err = restarted.VerifyAudit(ctx, all[2].ID, nil)
	require.NoError(t, err)
	require.False(t, res.Valid, "after one restart a chain rewritten without the key verifies (checked %d)", res.Checked)
}

// Two processes with the same key start at once on a chain recorded before
// keying, both told to seal it. B read the unkeyed head, then A marked the
// chain: B finds the marker and reads the head again, A's marker, sealed
// with its own key — not reported as sealed by another key or altered
// (found by a review).
func TestKeyAuditChainTwoProcessesStartingAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, a, raw := ownedPostgres(t)
	insertUnkeyed(t, raw, 3)
	stB := faultstore.Wrap(openPostgres(t, url))
	b := newTestService(t, stB)
	head := newestHash(t, b)
	calls := 0
	stB.Watch("ListAudit", func(context.Context) {
		if calls++; calls == 2 { // B read the head; A starts and marks the chain now
			require.NoError(t, a.KeyAuditChain(ctx, head))
		}
	})
	err := b.KeyAuditChain(ctx, head)
	require.NoError(t, err, "an intact chain, marked with B's own key by a process started with it, reported "+
		"as sealed by another key or altered")
}

// newestHash is the hash of the newest event of svc's chain.
func newestHash(t *testing.T, svc *service.Service) string {
	t.Helper()
	newest, err := svc.ListAuditEvents(context.Background(), audit.Filter{Limit: 1})
	require.NoError(t, err)
	require.Len(t, newest, 1)
	return newest[0].Hash
}

// createWorkflows creates a workflow of each name on svc, on an empty
// chain: the chain's events then, in order, one per workflow.
func createWorkflows(t *testing.T, svc *service.Service, names ...string) []audit.Event {
	t.Helper()
	ctx := context.Background()
	for _, name := range names {
		_, err := svc.CreateWorkflow(ctx, flow.Definition{Name: name, Nodes: []flow.Node{{ID: "t", Type: flow.NodeTrigger}}})
		require.NoError(t, err)
	}
	all, err := svc.ListAuditEvents(ctx, audit.Filter{Limit: 10, Ascending: true})
	require.NoError(t, err)
	require.Len(t, all, len(names))
	return all
}
