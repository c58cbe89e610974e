package sqlstore_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestCatalogLookupsFromMemory: on SQLite, whose file one process holds,
// the lookups of an execution read the database once per value, not once
// per lookup (the answers' freshness: storetest's CatalogLookups tests);
// on PostgreSQL, which other processes write, every lookup reads.
func TestCatalogLookupsFromMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lookups := func(t *testing.T, s *sqlstore.DB) (int64, uuid.UUID) {
		c := storetest.NewClock()
		w := storetest.Workflow("from-memory", c.Now())
		p := storetest.ProviderConfig("from-memory", "tracer", c.Now())
		require.NoError(t, s.CreateWorkflow(ctx, w))
		require.NoError(t, s.CreateProviderConfig(ctx, p))
		require.NoError(t, s.ReplaceWebhookRoutes(ctx, w.ID, []flow.WebhookRoute{{Method: "POST", Path: "/in", NodeID: "t"}}))
		before := sqlstore.CatalogMisses(s)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 25 {
					_, err := s.WorkflowRevision(ctx, w.ID)
					assert.NoError(t, err)
					_, err = s.ProviderConfigRevision(ctx, p.ID)
					assert.NoError(t, err)
					_, err = s.FindWebhookRoute(ctx, "POST", "/in")
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		return sqlstore.CatalogMisses(s) - before, w.ID
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
		require.NoError(t, err)
		defer func() { _ = s.Close() }()
		// Lookups racing for the first read may each read; after that, none.
		misses, id := lookups(t, s.DB)
		require.LessOrEqual(t, misses, int64(3*8))
		require.NoError(t, s.Close())
		_, err = s.WorkflowRevision(ctx, id)
		require.ErrorIs(t, err, store.ErrUnavailable, "closed: answers nothing, kept or not")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		s, err := postgres.Open(ctx, storetest.PostgresURL(t), 8)
		require.NoError(t, err)
		defer func() { _ = s.Close() }()
		misses, _ := lookups(t, s.DB)
		require.Equal(t, int64(3*8*25), misses)
	})
}
