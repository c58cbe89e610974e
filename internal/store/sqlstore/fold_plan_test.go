package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestFoldPlansOneIndexRange: PostgreSQL plans the fold's delete as one
// range of the changes table's primary key, with no scan of the whole
// table and no join, in the two states the fold itself leaves the table's
// statistics in when a burst of changes arrives before autovacuum analyzes
// it: "empty" (its VACUUM of the drained table: no row in N pages) and
// none at all (its TRUNCATE of a drained table above 8 MiB); and with
// statistics that are right. The first
// made `id IN (the first N ids)` a nested loop that had not folded 5,000
// of a million changes after a minute; the second made `id <= the N-th id`
// a scan of every change for each fold.
func TestFoldPlansOneIndexRange(t *testing.T) {
	t.Parallel()
	burst := `INSERT INTO execution_count_changes (started_at, workflow_id, to_status)
		SELECT now(), '00000000-0000-4000-8000-000000000001', 'completed' FROM generate_series(1, 200000)`
	for name, setup := range map[string][]string{
		"statistics say empty": {
			`INSERT INTO execution_count_changes (started_at, workflow_id, to_status)
				SELECT now(), gen_random_uuid(), 'completed' FROM generate_series(1, 20000)`,
			`DELETE FROM execution_count_changes`,
			`VACUUM (TRUNCATE false) execution_count_changes`,
			burst,
		},
		"no statistics": {`TRUNCATE execution_count_changes`, burst},
		"analyzed":      {burst, `ANALYZE execution_count_changes`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := storetest.PostgresURL(t)
			s, err := postgres.Open(ctx, url, 2) // migrated
			require.NoError(t, err)
			s.UseAuditKey(storetest.AuditKey)
			t.Cleanup(func() { _ = s.Close() })
			db, err := sql.Open("pgx", url)
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			for _, q := range append([]string{`ALTER TABLE execution_count_changes SET (autovacuum_enabled = false)`}, setup...) {
				_, err := db.ExecContext(ctx, q)
				require.NoError(t, err, q)
			}
			rows, err := db.QueryContext(ctx, "EXPLAIN "+sqlstore.FoldChanges, 5000)
			require.NoError(t, err)
			defer rows.Close()
			var lines []string
			for rows.Next() {
				var line string
				require.NoError(t, rows.Scan(&line))
				lines = append(lines, line)
			}
			require.NoError(t, rows.Err())
			plan := strings.Join(lines, "\n")
			require.NotContains(t, plan, "Seq Scan", plan)
			require.NotContains(t, plan, "Nested Loop", plan)
			require.NotContains(t, plan, "Join", plan)
		})
	}
}
