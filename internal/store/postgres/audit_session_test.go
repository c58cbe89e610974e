package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/store"
	"flowker/internal/store/storetest"
)

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
	v := audit.NewVerifier(s.AuditKey(), 0, "")
	require.NoError(t, s.WalkAudit(context.Background(), 1, 1<<62, v.Check))
	return v.Result()
}

// TestAuditBeforeYearOne: an event stamped before year 1 (a broken clock)
// on an empty chain is raised to year 1, Go's zero time: PostgreSQL would
// store a BC year that Go's layout writes differently, and the chain would
// not verify (found by a review).
func TestAuditBeforeYearOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, storetest.PostgresURL(t), 4)
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	defer s.Close()
	e := serverEvent(time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) }))
	require.Equal(t, time.Time{}, e.Timestamp)
	res := verifyStore(t, s)
	require.True(t, res.Valid, res.Reason)
}

// TestAuditAnySession: the chain is stored as sealed and verifies whatever
// the session's time zone, date style, interval style or byte output.
func TestAuditAnySession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, opts := range [][]string{
		{"TimeZone", "Asia/Kolkata", "DateStyle", "SQL,DMY", "IntervalStyle", "sql_standard", "lc_time", "C"},
		{"TimeZone", "America/St_Johns", "DateStyle", "German", "bytea_output", "escape"},
	} {
		t.Run(fmt.Sprint(opts), func(t *testing.T) {
			t.Parallel()
			plain := storetest.PostgresURL(t)
			u := withParams(t, plain, opts...)
			s, err := Open(ctx, u, 4)
			require.NoError(t, err)
			s.UseAuditKey(storetest.AuditKey)
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
			res := verifyStore(t, s)
			require.True(t, res.Valid, res.Reason)
			require.Equal(t, 6, res.Checked)
		})
	}
}
