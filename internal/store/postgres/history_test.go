package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

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
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}
