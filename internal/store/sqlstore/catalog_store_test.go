package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestCatalogLookupsFromMemory: the lookups of an execution read their
// values once, not once per lookup (the answers' freshness: storetest's
// CatalogLookups tests, and TestCatalogLookupsSeeOtherWriters).
func TestCatalogLookupsFromMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Lookups racing for the first read may each read; after that, none.
	lookups := func(t *testing.T, s *sqlstore.DB) (int64, uuid.UUID) {
		w, p := storetest.CatalogFixture(t, s, "from-memory", "/in")
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
		misses := sqlstore.CatalogMisses(s) - before
		// From memory again after a transaction that committed, one that
		// rolled back and a group commit: each ended its write.
		edit := func(tx store.Tx) error {
			w.Revision++
			return tx.UpdateWorkflow(ctx, w, w.Revision-1)
		}
		require.NoError(t, s.InTx(ctx, edit))
		require.Error(t, s.InTx(ctx, func(tx store.Tx) error { _ = edit(tx); w.Revision--; return errors.New("no") }))
		require.NoError(t, s.Batch(ctx, edit))
		before = sqlstore.CatalogMisses(s)
		for range 3 {
			rev, err := s.WorkflowRevision(ctx, w.ID)
			require.NoError(t, err)
			require.Equal(t, 3, rev)
		}
		require.Equal(t, int64(1), sqlstore.CatalogMisses(s)-before)
		return misses, w.ID
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s := openSQLite(t)
		misses, id := lookups(t, s.DB)
		require.LessOrEqual(t, misses, int64(3*8))
		require.NoError(t, s.Close())
		_, err := s.WorkflowRevision(ctx, id)
		require.ErrorIs(t, err, store.ErrUnavailable, "closed: answers nothing, kept or not")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		s := openPostgres(t, storetest.PostgresURL(t), 8)
		misses, _ := lookups(t, s.DB)
		require.LessOrEqual(t, misses, int64(3*8))
	})
}

// TestCatalogLookupsSeeOtherWriters: on PostgreSQL, a change another
// process makes to the catalog — through Flowker, or by SQL of its own —
// is seen by this process's next lookup of a value it keeps.
func TestCatalogLookupsSeeOtherWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	mine, other := openPostgres(t, url, 4), openPostgres(t, url, 4)
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer raw.Close()

	w, p := storetest.CatalogFixture(t, other, "other-writers", "/a")
	revision := func() int {
		t.Helper()
		rev, err := mine.WorkflowRevision(ctx, w.ID)
		require.NoError(t, err)
		return rev
	}
	require.Equal(t, 1, revision())
	require.Equal(t, 1, revision()) // kept
	w.Revision = 2
	require.NoError(t, other.UpdateWorkflow(ctx, w, 1))
	require.Equal(t, 2, revision())

	rev, err := mine.ProviderConfigRevision(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, 1, rev)
	_, err = raw.ExecContext(ctx, "UPDATE provider_configurations SET revision = 7 WHERE id = $1", p.ID)
	require.NoError(t, err)
	rev, err = mine.ProviderConfigRevision(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, 7, rev, "an operator's SQL advances the counter too")

	_, err = mine.FindWebhookRoute(ctx, "POST", "/a")
	require.NoError(t, err)
	_, err = raw.ExecContext(ctx, "DELETE FROM webhook_routes")
	require.NoError(t, err)
	_, err = mine.FindWebhookRoute(ctx, "POST", "/a")
	require.ErrorIs(t, err, flow.ErrWebhookNotFound)
}

// TestGuardedCatalogView: on PostgreSQL, the lookups of a guarded view
// answer from memory without reading the catalog counter, and an execution
// created under it commits only if the counter has not moved since — also
// when it shares a group commit with callers that are not guarded. On
// SQLite nothing is guarded: its lookups are never stale.
func TestGuardedCatalogView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	mine, other := openPostgres(t, url, 4), openPostgres(t, url, 4)
	w, _ := storetest.CatalogFixture(t, other, "guarded", "/guarded")
	revision := func(ctx context.Context) int {
		t.Helper()
		rev, err := mine.WorkflowRevision(ctx, w.ID)
		require.NoError(t, err)
		return rev
	}
	now := storetest.NewClock().Now()
	create := func(ctx context.Context) (uuid.UUID, error) {
		e := storetest.Execution(w.ID, flow.ExecRunning, now, "worker-1", now.Add(time.Minute))
		return e.ID, mine.Batch(ctx, func(tx store.Tx) error { return tx.CreateExecution(ctx, e) })
	}
	stored := func(id uuid.UUID) bool {
		_, err := mine.GetExecution(ctx, id)
		if errors.Is(err, flow.ErrExecutionNotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}

	require.Equal(t, 1, revision(ctx)) // read, and the counter with it
	guarded := store.WithGuardedCatalogView(ctx)
	require.Equal(t, 1, revision(guarded))
	_, unverified := store.CatalogViewOf(guarded).Unverified()
	require.True(t, unverified)
	id, err := create(guarded)
	require.NoError(t, err, "the catalog has not moved")
	require.True(t, stored(id))

	w.Revision = 2
	require.NoError(t, other.UpdateWorkflow(ctx, w, 1))
	require.Equal(t, 1, revision(store.WithGuardedCatalogView(ctx)), "from memory: the counter is not read")
	// Guarded callers with the old generation and plain ones, batched
	// together: only the guarded ones fail, and store nothing.
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ctx := ctx
			if i%2 == 0 {
				ctx = store.WithGuardedCatalogView(ctx)
				assert.Equal(t, 1, revision(ctx))
			}
			id, err := create(ctx)
			if i%2 == 0 {
				assert.ErrorIs(t, err, store.ErrCatalogMoved)
				assert.False(t, stored(id))
				return
			}
			assert.NoError(t, err)
			assert.True(t, stored(id))
		})
	}
	wg.Wait()

	require.Equal(t, 2, revision(store.WithCatalogView(ctx)), "a plain view reads the counter")
	guarded = store.WithGuardedCatalogView(ctx)
	require.Equal(t, 2, revision(guarded), "and a guarded one then takes what it read")
	_, err = create(guarded)
	require.NoError(t, err)

	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s := openSQLite(t)
		w, _ := storetest.CatalogFixture(t, s, "guarded", "/guarded")
		guarded := store.WithGuardedCatalogView(ctx)
		rev, err := s.WorkflowRevision(guarded, w.ID)
		require.NoError(t, err)
		require.Equal(t, 1, rev)
		_, unverified := store.CatalogViewOf(guarded).Unverified()
		require.False(t, unverified)
	})
}
