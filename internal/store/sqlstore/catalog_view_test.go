package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestReadCatalogViewWithAWrite: on PostgreSQL, a view a transaction
// filled answers its lookups without a read of the counter of their own,
// and sees every catalog change committed before the write was asked for
// (here by another process). The callers of one transaction share one
// read. A transaction that changed the catalog leaves its views unfilled
// (its counter is not committed), as do one that did not commit, SQLite,
// whose lookups ask nothing, and a call outside a transaction.
func TestReadCatalogViewWithAWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	mine, other := openPostgres(t, url, 4), openPostgres(t, url, 4)
	w, p := storetest.CatalogFixture(t, other, "view-with-write", "/view")
	now := storetest.NewClock().Now()
	withWrite := func(fill func(tx store.Tx) error) {
		t.Helper()
		e := storetest.Execution(w.ID, flow.ExecRunning, now, "worker-1", now.Add(time.Minute))
		require.NoError(t, mine.Batch(ctx, func(tx store.Tx) error {
			if err := tx.CreateExecution(ctx, e); err != nil {
				return err
			}
			return fill(tx)
		}))
	}
	generation := func(v *store.CatalogView) uint64 {
		t.Helper()
		require.True(t, v.FilledWithin(time.Minute), "filled")
		gen, _ := v.Generation(func() (uint64, bool) { t.Fatal("a filled view reads"); return 0, false }, nil)
		return gen
	}
	revision := func(ctx context.Context) int {
		t.Helper()
		rev, err := mine.ProviderConfigRevision(ctx, p.ID)
		require.NoError(t, err)
		return rev
	}

	require.Equal(t, 1, revision(ctx)) // kept, with the counter as read now
	p.Revision = 2
	require.NoError(t, other.UpdateProviderConfig(ctx, p, 1))
	view := store.NewCatalogView()
	withWrite(func(tx store.Tx) error { return tx.ReadCatalogView(ctx, view) })
	reads := sqlstore.CatalogCounterReads(mine.DB)
	require.Equal(t, 2, revision(view.Context(ctx)), "the change another process committed before the write")
	require.Equal(t, reads, sqlstore.CatalogCounterReads(mine.DB), "no read of the counter of its own")

	// Callers of one transaction, and of concurrent group commits.
	views := []*store.CatalogView{store.NewCatalogView(), store.NewCatalogView()}
	reads = sqlstore.CatalogCounterReads(mine.DB)
	withWrite(func(tx store.Tx) error {
		return errors.Join(tx.ReadCatalogView(ctx, views[0]), tx.ReadCatalogView(ctx, views[1]))
	})
	require.Equal(t, reads+1, sqlstore.CatalogCounterReads(mine.DB), "one read per transaction")
	require.Equal(t, generation(views[0]), generation(views[1]))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			v := store.NewCatalogView()
			withWrite(func(tx store.Tx) error { return tx.ReadCatalogView(ctx, v) })
			assert.True(t, v.FilledWithin(time.Minute))
		})
	}
	wg.Wait()

	// A transaction that changes the catalog would read a counter it moved,
	// not committed: its views are left unfilled, asked for before the
	// change or after it.
	before, after := store.NewCatalogView(), store.NewCatalogView()
	require.NoError(t, mine.InTx(ctx, func(tx store.Tx) error {
		if err := tx.ReadCatalogView(ctx, before); err != nil {
			return err
		}
		p.Revision = 3
		if err := tx.UpdateProviderConfig(ctx, p, 2); err != nil {
			return err
		}
		return tx.ReadCatalogView(ctx, after)
	}))
	require.False(t, before.FilledWithin(time.Minute), "not filled by a transaction that moved the counter")
	require.False(t, after.FilledWithin(time.Minute))
	current := store.NewCatalogView()
	withWrite(func(tx store.Tx) error { return tx.ReadCatalogView(ctx, current) })
	require.Greater(t, generation(current), generation(view))
	require.Equal(t, 3, revision(current.Context(ctx)))

	outside := store.NewCatalogView()
	require.NoError(t, mine.ReadCatalogView(ctx, outside))
	require.False(t, outside.FilledWithin(time.Minute), "outside a transaction there is no write to travel with")

	// A transaction that did not commit leaves its views unfilled: one
	// that fails at COMMIT, after the read (a deferred trigger raising a
	// serialization failure), is retried by its caller, perhaps in a
	// transaction that fills nothing.
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.ExecContext(ctx, `CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected commit failure' USING ERRCODE = '40001'; END $$`)
	require.NoError(t, err)
	_, err = raw.ExecContext(ctx, `CREATE CONSTRAINT TRIGGER fail_commit AFTER INSERT ON executions
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_commit()`)
	require.NoError(t, err)
	failed := store.NewCatalogView()
	e := storetest.Execution(w.ID, flow.ExecRunning, now, "worker-1", now.Add(time.Minute))
	err = mine.Batch(ctx, func(tx store.Tx) error {
		return errors.Join(tx.CreateExecution(ctx, e), tx.ReadCatalogView(ctx, failed))
	})
	require.ErrorIs(t, err, store.ErrUnavailable, "COMMIT failed")
	require.False(t, failed.FilledWithin(time.Minute), "not filled by a transaction that did not commit")

	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s := openSQLite(t)
		w, _ := storetest.CatalogFixture(t, s, "view-with-write", "/view")
		e := storetest.Execution(w.ID, flow.ExecRunning, now, "worker-1", now.Add(time.Minute))
		v := store.NewCatalogView()
		require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
			return errors.Join(tx.CreateExecution(ctx, e), tx.ReadCatalogView(ctx, v))
		}))
		require.False(t, v.FilledWithin(time.Minute), "its lookups ask the database nothing")
	})
}
