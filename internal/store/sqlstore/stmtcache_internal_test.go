package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// Two result sets of the same statement open at once in one transaction
// (SQLite keeps one handle per prepared statement): the cache must not
// hand the open one out again.
func TestNestedResultSetsOfOneStatementInTx(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "x.db"))
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE t (i INTEGER)`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO t VALUES (1), (2), (3)`)
	require.NoError(t, err)
	cache := newStmtCache()
	const q = `SELECT i FROM t WHERE i >= $1 ORDER BY i`
	require.NotNil(t, cache.stmt(ctx, db, q)) // prepared outside a transaction, as prepareWanted does
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	c := &conn{db: tx, d: &Dialect{}, stmts: cache}
	outer, err := c.QueryContext(ctx, q, 1)
	require.NoError(t, err)
	var got []int
	for outer.Next() {
		var i int
		require.NoError(t, outer.Scan(&i))
		got = append(got, i)
		inner, err := c.QueryContext(ctx, q, 3)
		require.NoError(t, err)
		n := 0
		for inner.Next() {
			n++
		}
		require.NoError(t, inner.Err())
		require.NoError(t, inner.Close())
		require.Equal(t, 1, n)
	}
	require.NoError(t, outer.Err())
	require.NoError(t, outer.Close())
	require.Equal(t, []int{1, 2, 3}, got)
}
