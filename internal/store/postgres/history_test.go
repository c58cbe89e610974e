package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/storetest"
)

// Migration 00006 backfills the dashboard rollups from the executions
// already stored.
func TestMigration6BackfillsCounts(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"))
	require.NoError(t, err)
	_, err = p.UpTo(context.Background(), 5)
	require.NoError(t, err)
	storetest.RunCountsBackfill(t, db, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), url, 2)
		require.NoError(t, err)
		s.UseAuditKey(storetest.AuditKey)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

// TestDrainedChangesTableShrinks: after a burst of folded changes that
// VACUUM could not truncate (it needs a moment's exclusive lock that
// inserts under load may never give it), the changes table keeps its
// pages, empty, and every dashboard count scans them (140 ms for 5,000,000
// folded rows). The fold that drains it gives them back.
func TestDrainedChangesTableShrinks(t *testing.T) {
	t.Parallel()
	for name, vacuumed := range map[string]bool{"vacuumed": true, "dead rows left": false} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testDrainedChangesTableShrinks(t, vacuumed)
		})
	}
}

// testDrainedChangesTableShrinks: with its dead rows vacuumed, or still
// there (as while load goes on: they call for a VACUUM, which here cannot
// give pages back), the bloated table is shrunk by the first drained fold.
func testDrainedChangesTableShrinks(t *testing.T, vacuumed bool) {
	ctx := context.Background()
	s, db := openWithRaw(t, 2)
	last := `VACUUM (TRUNCATE false) execution_count_changes`
	if !vacuumed {
		last = `ALTER TABLE execution_count_changes SET (vacuum_truncate = false)`
	}
	for _, q := range []string{
		`INSERT INTO execution_count_changes (started_at, workflow_id, to_status)
			SELECT now() - i * interval '1 second', gen_random_uuid(), 'completed' FROM generate_series(1, 200000) AS i`,
		`DELETE FROM execution_count_changes`,
		last,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	if !vacuumed { // the statistics the fold reads arrive within about a second
		require.Eventually(t, func() bool {
			var dead int64
			require.NoError(t, db.QueryRowContext(ctx, `SELECT n_dead_tup FROM pg_stat_user_tables
				WHERE relid = 'execution_count_changes'::regclass`).Scan(&dead))
			return dead >= 5000
		}, 10*time.Second, 50*time.Millisecond)
	}
	size := func() (n int64) {
		require.NoError(t, db.QueryRowContext(ctx, `SELECT pg_relation_size('execution_count_changes')`).Scan(&n))
		return n
	}
	require.Greater(t, size(), int64(8<<20), "bloated, as after a burst")

	e := storetest.Execution(uuid.New(), flow.ExecRunning, time.Now(), "w1", time.Now().Add(time.Hour))
	require.NoError(t, s.CreateExecution(ctx, e)) // a change to fold
	n, err := s.FoldExecutionCounts(ctx, 1000)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Less(t, size(), int64(64<<10), "the drained table gave its pages back")
	counts, err := s.CountExecutionsByStatus(ctx, nil, nil, "")
	require.NoError(t, err)
	require.Equal(t, map[flow.ExecutionStatus]int64{flow.ExecRunning: 1}, counts, "what was folded is still counted")
}

// TestFoldStaysARange: a fold finds its changes by one index range, even
// when the table's statistics say it is empty while it holds many. They
// say so after the fold's VACUUM of the drained table, until autovacuum
// analyzes it again; a burst in between (phase h of the bench: a million
// executions seeded) made the planner join the batch with the table in a
// nested loop, and the first fold had not ended after a minute while every
// dashboard count scanned the growing table. 200,000 changes fold in about
// a second; the deadline is far above that, far below the joined plan.
func TestFoldStaysARange(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, db := openWithRaw(t, 2)
	for _, q := range []string{
		`ALTER TABLE execution_count_changes SET (autovacuum_enabled = false)`, // the statistics stay as the test leaves them
		`INSERT INTO execution_count_changes (started_at, workflow_id, to_status)
			SELECT now(), gen_random_uuid(), 'completed' FROM generate_series(1, 20000)`,
		`DELETE FROM execution_count_changes`,
		`VACUUM (TRUNCATE false) execution_count_changes`, // drained: "no row in N pages"
		`INSERT INTO execution_count_changes (started_at, workflow_id, to_status)
			SELECT now() - (i % 5000) * interval '1 minute', '00000000-0000-4000-8000-000000000001', 'completed'
			FROM generate_series(1, 200000) AS i`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	var tuples, pages float64
	require.NoError(t, db.QueryRowContext(ctx, `SELECT reltuples, relpages FROM pg_class
		WHERE oid = 'execution_count_changes'::regclass`).Scan(&tuples, &pages))
	require.Zero(t, tuples, "the statistics say the table is empty")
	require.Positive(t, pages)

	folded := 0
	for {
		n, err := s.FoldExecutionCounts(ctx, 5000)
		require.NoError(t, err, "folded %d of 200,000 before the deadline", folded)
		if folded += n; n == 0 {
			break
		}
	}
	require.Equal(t, 200000, folded)
	counts, err := s.CountExecutionsByStatus(ctx, nil, nil, "")
	require.NoError(t, err)
	require.Equal(t, map[flow.ExecutionStatus]int64{flow.ExecCompleted: 200000}, counts)
}

// TestFoldTakesIdsCommittedLate: an id taken by a transaction still open
// (lower than ids committed after it) is neither folded nor lost: the
// fold's id range covers it, but its snapshot does not see it; a later
// fold takes it. A batch is the first limit ids visible.
func TestFoldTakesIdsCommittedLate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := openWithRaw(t, 2)
	ins := `INSERT INTO execution_count_changes (started_at, workflow_id, to_status)
		SELECT now(), '00000000-0000-4000-8000-000000000001', 'completed' FROM generate_series(1, $1)`
	_, err := db.ExecContext(ctx, ins, 1) // id 1, committed
	require.NoError(t, err)
	open, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = open.ExecContext(ctx, ins, 1) // id 2, not committed yet
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, ins, 3) // ids 3-5, committed
	require.NoError(t, err)

	n, err := s.FoldExecutionCounts(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, 2, n, "ids 1 and 3: the first two visible")
	n, err = s.FoldExecutionCounts(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, 2, n, "ids 4 and 5")
	counts, err := s.CountExecutionsByStatus(ctx, nil, nil, "")
	require.NoError(t, err)
	require.Equal(t, map[flow.ExecutionStatus]int64{flow.ExecCompleted: 4}, counts)

	require.NoError(t, open.Commit())
	n, err = s.FoldExecutionCounts(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n, "id 2, once committed")
	counts, err = s.CountExecutionsByStatus(ctx, nil, nil, "")
	require.NoError(t, err)
	require.Equal(t, map[flow.ExecutionStatus]int64{flow.ExecCompleted: 5}, counts)
}
