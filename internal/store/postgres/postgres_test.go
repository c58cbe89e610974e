package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.PostgresURL(t) // skip the whole suite early when no database is configured
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), storetest.PostgresURL(t), 8)
		require.NoError(t, err)
		s.UseAuditKey(storetest.AuditKey)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

// TestLockOwner: one session at a time holds a worker id, per schema; a
// second store asking for a held id waits, then is refused naming the
// holder, and gets it once the holder closes.
func TestLockOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	a, b := openStore(t, url), openStore(t, url)
	require.NoError(t, a.LockOwner(ctx, "worker-0"))

	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := b.LockOwner(short, "worker-0")
	var inUse *postgres.OwnerInUseError
	require.ErrorAs(t, err, &inUse)
	require.GreaterOrEqual(t, time.Since(began), 400*time.Millisecond, "it waits for the holder until ctx ends")
	require.Equal(t, "worker-0", inUse.Owner)
	require.Contains(t, err.Error(), `worker id "worker-0" is in use by another Flowker process (flowker host=`)
	require.Contains(t, err.Error(), "pid="+strconv.Itoa(os.Getpid()))

	require.NoError(t, b.LockOwner(ctx, "worker-1"), "other ids are free")
	require.NoError(t, openStore(t, storetest.PostgresURL(t)).LockOwner(ctx, "worker-0"),
		"the same id in another schema is another deployment")
	c := openStore(t, url)
	time.AfterFunc(300*time.Millisecond, func() { _ = a.Close() })
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, c.LockOwner(wait, "worker-0"), "the id is free once its holder closed")
	require.NoError(t, c.Ping(ctx), "the store keeps working")
}

func TestAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	a, err := postgres.Open(ctx, url, 8)
	require.NoError(t, err)
	a.UseAuditKey(storetest.AuditKey)
	defer a.Close()
	b, err := postgres.Open(ctx, url, 8) // a second process's pool on the same database
	require.NoError(t, err)
	b.UseAuditKey(storetest.AuditKey)
	defer b.Close()
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer raw.Close()
	storetest.RunAudit(t, a, b, func(t *testing.T, seq int64, column, value string) {
		for _, q := range []string{`ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete`,
			`UPDATE audit_events SET ` + column + ` = '` + value + `' WHERE seq = ` + strconv.FormatInt(seq, 10)} {
			_, err := raw.ExecContext(ctx, q)
			require.NoError(t, err)
		}
	}, raw)
}

func openBench(b *testing.B) (*postgres.Store, *sql.DB) { return openWithRaw(b, 40) }

// openWithRaw opens a store of conns connections on a fresh schema, and a
// plain pool on the same schema for what the store does not do.
func openWithRaw(tb testing.TB, conns int) (*postgres.Store, *sql.DB) {
	url := storetest.PostgresURL(tb)
	s, err := postgres.Open(context.Background(), url, conns)
	require.NoError(tb, err)
	s.UseAuditKey(storetest.AuditKey)
	tb.Cleanup(func() { _ = s.Close() })
	raw, err := sql.Open("pgx", url)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = raw.Close() })
	return s, raw
}

// go test ./internal/store/postgres -run '^$' -bench AuditAppend (needs FLOWKER_TEST_DATABASE_URL)
func BenchmarkAuditAppend32(b *testing.B) {
	s, _ := openBench(b)
	storetest.BenchAuditAppend(b, s, 32)
}

// go test ./internal/store/postgres -run '^$' -bench Dashboard1M -benchtime 20x
func BenchmarkDashboard1M(b *testing.B) {
	s, raw := openBench(b)
	storetest.SeedExecutions(b, raw, `INSERT INTO executions (id, workflow_id, workflow_revision, trigger_node_id,
			status, input, started_at, updated_at)
		SELECT gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 1, 't',
			(ARRAY['failed','running','cancelled','completed','completed','completed','completed','completed','completed','completed'])[i % 10 + 1],
			'{}', '2026-01-01'::timestamptz + ((i * 31) % 31536000) * interval '1 second', now()
		FROM generate_series(1, 1000000) AS i`)
	storetest.SeedExecutions(b, raw, `VACUUM ANALYZE executions`)
	// The busy slot is inserted after the vacuum, as the current slot is:
	// its index entries are not marked all-visible yet.
	storetest.SeedExecutions(b, raw, `INSERT INTO executions (id, workflow_id, workflow_revision, trigger_node_id,
			status, input, started_at, updated_at)
		SELECT gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 1, 't',
			(ARRAY['failed','running','cancelled','completed','completed','completed','completed','completed','completed','completed'])[i % 10 + 1],
			jsonb_build_object('pad', repeat(md5(i::text), 94)), -- 3 KB, as the reference workflow's
			`+storetest.BusyEdgeStart+`::timestamptz + i * interval '20 milliseconds', now()
		FROM generate_series(1, 20000) AS i`)
	storetest.SeedExecutions(b, raw, `ANALYZE executions`)
	storetest.BenchDashboard(b, s)
}

// TestLockOwnerRefusedMidStatement: a wait for a held worker id that ends
// while one of its tries is in flight still names the holder. pgx closes
// a connection whose statement's ctx ends, so the holder is asked on a
// session of its own (CI saw "in use by another Flowker process" without
// the holder, cmd/flowker TestWorkerIDInUse under load). Not parallel: it
// finds its own waiting session by this process's application_name.
func TestLockOwnerRefusedMidStatement(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	a := openStore(t, url)
	require.NoError(t, a.LockOwner(ctx, "worker-0"))

	u, err := neturl.Parse(url)
	require.NoError(t, err)
	p := storetest.StartProxy(t, u.Host)
	u.Host = p.Addr
	b := openStore(t, u.String())
	wait, cancelWait := context.WithCancel(ctx)
	defer cancelWait()
	refused := make(chan error, 1)
	go func() { refused <- b.LockOwner(wait, "worker-0") }()

	// b's session has tried (and waits to try again): it has been idle
	// after a try for a while (not just between preparing the try and
	// running it), and it holds no advisory lock (a's session, named
	// alike, holds one).
	host, _ := os.Hostname()
	name := fmt.Sprintf("flowker host=%s pid=%d", host, os.Getpid())
	name = name[:min(len(name), 63)]
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer func() { _ = raw.Close() }()
	require.Eventually(t, func() bool {
		var n int
		err := raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND query LIKE 'SELECT pg_try_advisory_lock%'
			AND state = 'idle' AND state_change < clock_timestamp() - interval '100 milliseconds'
			AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)`, name).Scan(&n)
		return err == nil && n == 1
	}, 30*time.Second, 10*time.Millisecond, "b's session tried once")

	// The next try's answer is held; the wait ends meanwhile; pgx ends the
	// session; only then does the answer go on.
	p.HoldReplies()
	within, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.True(t, p.WaitFor(within, func(held, _ int) bool { return held > 0 }), "a try in flight")
	cancelWait()
	require.True(t, p.WaitFor(within, func(_, hungUp int) bool { return hungUp > 0 }), "the session ended")
	p.ReleaseReplies()

	err = <-refused
	var inUse *postgres.OwnerInUseError
	require.ErrorAs(t, err, &inUse)
	require.Contains(t, err.Error(), `worker id "worker-0" is in use by another Flowker process (flowker host=`)
	require.Contains(t, err.Error(), "pid="+strconv.Itoa(os.Getpid()))
}

// openStore opens a store on url, closed when the test ends.
func openStore(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, 2)
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestValueTooLargeForAnIndexIsRefused: a value too large for a B-tree
// entry (about 2.7 KB: SQLSTATE 54000) is a refused value, as a NUL is —
// not an internal error (found by a defect hunt: a webhook route of 3 KB
// answered 500; the API now refuses paths over 1,024 characters first).
func TestValueTooLargeForAnIndexIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := postgres.Open(ctx, storetest.PostgresURL(t), 2)
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	w := storetest.Workflow("long-route", time.Now().UTC().Truncate(time.Microsecond))
	require.NoError(t, s.CreateWorkflow(ctx, w))
	var b strings.Builder // random: a repeated text would be compressed below the limit
	for b.Len() < 3000 {
		b.WriteString(strconv.FormatUint(rand.Uint64(), 36))
	}
	long := "/" + b.String()
	err = s.ReplaceWebhookRoutes(ctx, w.ID, []flow.WebhookRoute{{Method: "POST", Path: long, NodeID: "t"}})
	require.ErrorIs(t, err, store.ErrUnstorable)
	require.Contains(t, err.Error(), "54000")
}
