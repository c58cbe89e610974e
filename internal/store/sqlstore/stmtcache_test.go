package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
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
	s.UseAuditKey(storetest.AuditKey)

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
	anonymous := false
	for _, q := range sqlstore.CachedWriterTexts(s.DB) {
		require.NotContains(t, q, "$1, $2", "parameters in order are sent as ?")
		anonymous = anonymous || strings.Contains(q, "VALUES (?, ?")
	}
	require.True(t, anonymous, "the insert's parameters are ?")

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

// Reads that must see one moment run in a transaction of the reader pool;
// their statements are prepared too, not parsed again on every call (a
// synchronous call's answer is such a read).
func TestReadTogetherPrepared(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flowker.db"), "FULL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	_, before := sqlstore.CachedStatements(s.DB)
	_, _, err = s.ExecutionWithSteps(ctx, uuid.New())
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)
	_, after := sqlstore.CachedStatements(s.DB)
	require.Equal(t, before+2, after, "the row's and the steps' reads are prepared")
	_, _, err = s.ExecutionWithSteps(ctx, uuid.New())
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)
	_, again := sqlstore.CachedStatements(s.DB)
	require.Equal(t, after, again)
}

// TestSQLiteReadersStayOpen: concurrent reads keep their connections. A
// reader closed when idle and opened again reopens the file and prepares
// every statement anew (it was 9% of Flowker's CPU under load).
func TestSQLiteReadersStayOpen(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flowker.db"), "FULL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	w := storetest.Workflow("read", storetest.NewClock().Now())
	require.NoError(t, createWorkflow(s, w))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				_, err := s.GetWorkflow(ctx, w.ID)
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	st := sqlstore.ReaderStats(s.DB)
	require.Zero(t, st.MaxIdleClosed, "readers closed for being idle: %+v", st)
	require.LessOrEqual(t, st.OpenConnections, st.MaxOpenConnections)
}
