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

// A running execution's progress write, the most frequent statement,
// changes no index entry and fires no trigger on SQLite (which rewrites
// every index holding a column an UPDATE sets, whatever the value); the
// terminal write does both. Read from the compiled statements.
func TestRunningProgressTouchesNoIndex(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(context.Background(), path, "NORMAL") // migrated
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

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
