package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store/sqlite"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// On SQLite, a statement first run in a group commit is prepared after it
// and reused by the next ones; reads prepare on the reader pool; the
// cache stays bounded by distinct statements, not by calls.
func TestStatementCacheSQLite(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flowker.db"), "FULL")
	require.NoError(t, err)

	c := storetest.NewClock()
	first := storetest.Workflow("first", c.Now())
	require.NoError(t, createWorkflow(s, first))
	w1, _ := sqlstore.CachedStatements(s.DB)
	require.Positive(t, w1, "the insert of a group commit is prepared after it")
	for i := range 20 {
		require.NoError(t, createWorkflow(s, storetest.Workflow(fmt.Sprintf("wf-%d", i), c.Now())))
	}
	w2, _ := sqlstore.CachedStatements(s.DB)
	require.Equal(t, w1, w2, "the same statements again: nothing more prepared")

	for range 3 {
		got, err := s.GetWorkflow(ctx, first.ID)
		require.NoError(t, err)
		require.Equal(t, first.Name, got.Name)
	}
	_, r := sqlstore.CachedStatements(s.DB)
	require.Positive(t, r, "reads are prepared on the reader pool")

	// A closed store's cache is empty and calls still answer (unavailable).
	require.NoError(t, s.Close())
	w3, r3 := sqlstore.CachedStatements(s.DB)
	require.Zero(t, w3+r3)
	_, err = s.GetWorkflow(ctx, first.ID)
	require.Error(t, err)
}
