package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store/sqlite"
	"flowker/internal/store/sqlstore"
)

// migratedReadOnly is a read-only connection to a SQLite database the store
// has migrated, for reading compiled statements and plans.
func migratedReadOnly(t *testing.T) *sql.DB {
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(context.Background(), path, "NORMAL")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// A running execution's progress write, the most frequent statement,
// changes no index entry and fires no trigger on SQLite (which rewrites
// every index holding a column an UPDATE sets, whatever the value); the
// terminal write does both. Read from the compiled statements.
func TestRunningProgressTouchesNoIndex(t *testing.T) {
	t.Parallel()
	db := migratedReadOnly(t)

	indexWork := func(query string, params int) (n int) {
		rows, err := db.QueryContext(context.Background(), "EXPLAIN "+query, make([]any, params)...)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var addr, p1, p2, p3 int
			var op string
			var p4, p5, comment any
			require.NoError(t, rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment))
			switch op {
			case "IdxInsert", "IdxDelete", "Program": // Program: a trigger
				n++
			}
		}
		require.NoError(t, rows.Err())
		return n
	}
	require.Zero(t, indexWork(sqlstore.RunningUpdate, 9))
	require.Positive(t, indexWork(sqlstore.ProgressUpdate, 10))
}

// The hand-back at shutdown and the queue depth read the unfinished rows
// only (two short ranges of the status index, or the claim's partial
// index), now that no index on the lease owner is kept: each execution
// wrote and deleted an entry in it. A plan that scanned the table would
// read the whole history. SQLite plans these the same with or without
// statistics (the store never runs ANALYZE).
func TestUnfinishedQueriesReadUnfinishedRowsOnly(t *testing.T) {
	t.Parallel()
	db := migratedReadOnly(t)

	// texts reads the last column of every row, as text.
	texts := func(query string, args ...any) (out []string) {
		rows, err := db.QueryContext(context.Background(), query, args...)
		require.NoError(t, err)
		defer rows.Close()
		columns, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			values := make([]any, len(columns))
			var last string
			for i := range values[:len(values)-1] {
				values[i] = new(any)
			}
			values[len(values)-1] = &last
			require.NoError(t, rows.Scan(values...))
			out = append(out, last)
		}
		require.NoError(t, rows.Err())
		return out
	}
	require.NotContains(t, texts(`SELECT name FROM sqlite_master WHERE tbl_name = 'executions' AND type = 'index'`),
		"executions_owner")

	for _, q := range []struct {
		sql    string
		params int
	}{{sqlstore.ReleaseLeasesSQL, 2}, {sqlstore.CountUnfinishedSQL, 0}} {
		plan := texts("EXPLAIN QUERY PLAN "+q.sql, make([]any, q.params)...) // the detail column
		require.Len(t, plan, 1, q.sql)
		require.Regexp(t, `^SEARCH executions USING (COVERING )?INDEX `+
			`(executions_unfinished_started|executions_status_started \(status=\?\))$`, plan[0], q.sql)
	}
}
