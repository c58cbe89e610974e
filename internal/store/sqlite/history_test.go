package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"flowker/internal/store"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// Migration 00006 backfills the dashboard rollups from the executions
// already stored.
func TestMigration6BackfillsCounts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "flowker.db")
	db := openRaw(t, path)
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"))
	require.NoError(t, err)
	_, err = p.UpTo(context.Background(), 5)
	require.NoError(t, err)
	storetest.RunCountsBackfill(t, db, func(t *testing.T) store.Store {
		require.NoError(t, db.Close()) // one process per file: the store's lock
		s, err := sqlite.Open(context.Background(), path, "FULL")
		require.NoError(t, err)
		s.UseAuditKey(storetest.AuditKey)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}
