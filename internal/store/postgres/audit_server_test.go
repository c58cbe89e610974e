package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestAuditChainedInGoAndOnServer: during a rolling deploy, a replica that
// still seals events in Go (no Dialect.AuditAppend) and one that has the
// server chain them append concurrently to one chain, which verifies: both
// hold the audit lock from the head's read to commit, and hash alike.
func TestAuditChainedInGoAndOnServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	open := func(d sqlstore.Dialect) *sqlstore.DB {
		db, err := sql.Open("pgx", url)
		require.NoError(t, err)
		s, err := sqlstore.Open(ctx, db, db, d)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	server := open(dialect(nil))
	inGo := dialect(nil)
	inGo.AuditAppend = ""
	old := open(inGo)

	const each = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for i := range 2 * each {
		s := []*sqlstore.DB{server, old}[i%2]
		wg.Go(func() {
			e := &audit.Event{ID: uuid.New(), Timestamp: time.Now().UTC(), EventType: "EXECUTION_COMPLETED",
				Action: "EXECUTE", Result: "SUCCESS", ResourceType: "execution", ResourceID: fmt.Sprint("é", i),
				Metadata: map[string]any{"i": float64(i)}}
			if i%4 < 2 {
				errs <- s.Batch(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) })
			} else {
				errs <- s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) })
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	v := audit.NewVerifier("")
	require.NoError(t, server.WalkAudit(ctx, 1, 1<<62, v.Check))
	res := v.Result()
	require.True(t, res.Valid, res.Reason)
	require.Equal(t, 2*each, res.Checked)
}

func serverEvent(at time.Time) *audit.Event {
	return &audit.Event{ID: uuid.New(), Timestamp: at, EventType: "WORKFLOW_UPDATED", Action: "UPDATE",
		Result: "SUCCESS", ResourceType: "workflow", ResourceID: "é日本", Actor: audit.Actor{Type: "api_key", ID: "ci"},
		Metadata: map[string]any{"k": "ü"}}
}

// withParams is base with connection parameters added.
func withParams(t *testing.T, base string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func verifyStore(t *testing.T, s *Store) audit.Verification {
	t.Helper()
	v := audit.NewVerifier("")
	require.NoError(t, s.WalkAudit(context.Background(), 1, 1<<62, v.Check))
	return v.Result()
}

// TestAuditBeforeYearOne: an event stamped before year 1 (a broken clock)
// on an empty chain is raised to year 1, Go's zero time, as sealing in Go
// did; the server's to_char would write a BC year differently from Go's
// layout, and the chain would not verify (found by a review).
func TestAuditBeforeYearOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, storetest.PostgresURL(t), 4)
	require.NoError(t, err)
	defer s.Close()
	e := serverEvent(time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) }))
	require.Equal(t, time.Time{}, e.Timestamp)
	res := verifyStore(t, s)
	require.True(t, res.Valid, res.Reason)
}

// TestAuditServerHashesAnySession: the server hashes as Go whatever the
// session's time zone, date style, interval style or byte output; and the
// times it returns are read back right with results sent as text
// (default_query_exec_mode exec, as behind PgBouncer) and a DateStyle
// pgx cannot parse: the statement travels with COMMIT, so its handler
// must not fail on what the server committed (found by a review).
func TestAuditServerHashesAnySession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, opts := range [][]string{
		{"TimeZone", "Asia/Kolkata", "DateStyle", "SQL,DMY", "IntervalStyle", "sql_standard", "lc_time", "C"},
		{"TimeZone", "America/St_Johns", "DateStyle", "German", "bytea_output", "escape"},
		{"default_query_exec_mode", "exec", "DateStyle", "SQL,DMY"},
	} {
		t.Run(fmt.Sprint(opts), func(t *testing.T) {
			t.Parallel()
			plain := storetest.PostgresURL(t)
			u := withParams(t, plain, opts...)
			s, err := Open(ctx, u, 4)
			require.NoError(t, err)
			defer s.Close()
			var events []*audit.Event
			for _, at := range []time.Time{time.Date(1900, 1, 1, 0, 0, 0, 999, time.FixedZone("x", 5*3600+1234)),
				time.Date(2026, 6, 30, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 1, time.UTC)} {
				a, b := serverEvent(at), serverEvent(at)
				require.NoError(t, s.Batch(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, a) }))
				require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, b) }))
				events = append(events, a, b)
			}
			raw, err := sql.Open("pgx", plain) // binary results: any DateStyle reads
			require.NoError(t, err)
			defer raw.Close()
			for _, e := range events {
				var seq int64
				var hash string
				var at time.Time
				require.NoError(t, raw.QueryRowContext(ctx, `SELECT seq, hash, occurred_at FROM audit_events WHERE event_id = $1`,
					e.ID.String()).Scan(&seq, &hash, &at))
				require.Equal(t, []any{seq, hash, at.UTC()}, []any{e.Seq, e.Hash, e.Timestamp}, "set as stored")
			}
			if opts[0] != "default_query_exec_mode" { // with text results and that DateStyle, no store read parses a time
				res := verifyStore(t, s)
				require.True(t, res.Valid, res.Reason)
				require.Equal(t, 6, res.Checked)
			}
		})
	}
}
