package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/storetest"
)

// TestCatalogCounterNeverGoesBack: the catalog counter (migration 00008)
// made again while a process runs counts on from the time, never from a
// value the process kept other values with; and an operator's change in
// another session, whose search_path names another schema, moves this
// schema's counter.
func TestCatalogCounterNeverGoesBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := storetest.PostgresURL(t)
	s, err := postgres.Open(ctx, u, 4)
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	defer s.Close()
	w := storetest.Workflow("counter", storetest.NewClock().Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))
	for range 3 {
		w.Revision++
		require.NoError(t, s.UpdateWorkflow(ctx, w, w.Revision-1))
	}
	revision := func() int {
		t.Helper()
		rev, err := s.WorkflowRevision(ctx, w.ID)
		require.NoError(t, err)
		return rev
	}
	require.Equal(t, 4, revision()) // kept

	raw, err := sql.Open("pgx", u)
	require.NoError(t, err)
	defer raw.Close()
	counter := func() (v int64) {
		t.Helper()
		require.NoError(t, raw.QueryRowContext(ctx, "SELECT version FROM catalog_version").Scan(&v))
		return v
	}
	kept := counter()
	p, err := goose.NewProvider(goose.DialectPostgres, raw, os.DirFS("migrations"))
	require.NoError(t, err)
	_, err = p.DownTo(ctx, 7)
	require.NoError(t, err)
	_, err = raw.ExecContext(ctx, "UPDATE workflows SET revision = 9 WHERE id = $1", w.ID) // no counter to move
	require.NoError(t, err)
	_, err = p.Up(ctx)
	require.NoError(t, err)
	for counter() < kept { // a counter starting over would come back to it
		_, err = raw.ExecContext(ctx, "UPDATE workflows SET revision = revision WHERE false")
		require.NoError(t, err)
	}
	require.Equal(t, 9, revision(), "the counter made again is not the one the value was kept with")

	parsed, err := url.Parse(u)
	require.NoError(t, err)
	schema := parsed.Query().Get("search_path")
	other, err := sql.Open("pgx", os.Getenv("FLOWKER_TEST_DATABASE_URL")) // the default search_path
	require.NoError(t, err)
	defer other.Close()
	_, err = other.ExecContext(ctx, fmt.Sprintf(`UPDATE %q.workflows SET revision = 10 WHERE id = $1`, schema), w.ID)
	require.NoError(t, err)
	require.Equal(t, 10, revision())
}

// TestCatalogEditsUnderRepeatableReadDefault: with the server's default
// isolation at REPEATABLE READ, processes editing different workflows at
// once all succeed: the store's transactions are READ COMMITTED, and the
// catalog counter's row only queues them.
func TestCatalogEditsUnderRepeatableReadDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	parsed, err := url.Parse(storetest.PostgresURL(t))
	require.NoError(t, err)
	q := parsed.Query()
	q.Set("default_transaction_isolation", "repeatable read")
	parsed.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // libpq reads no + as a space
	var stores []*postgres.Store
	for range 2 {
		s, err := postgres.Open(ctx, parsed.String(), 4)
		require.NoError(t, err)
		s.UseAuditKey(storetest.AuditKey)
		defer s.Close()
		stores = append(stores, s)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		s := stores[i%2]
		w := storetest.Workflow(fmt.Sprintf("edited-%d", i), storetest.NewClock().Now())
		require.NoError(t, s.CreateWorkflow(ctx, w))
		wg.Go(func() {
			for range 20 {
				err := s.InTx(ctx, func(tx store.Tx) error {
					w.Revision++
					if err := tx.UpdateWorkflow(ctx, w, w.Revision-1); err != nil {
						return err
					}
					return tx.ReplaceWebhookRoutes(ctx, w.ID, []flow.WebhookRoute{{Method: "POST", Path: fmt.Sprintf("/e%d", i), NodeID: "t"}})
				})
				if !assert.NoError(t, err) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestCatalogViewReadsTheCounterOnce: the lookups under one
// store.WithCatalogView share the first one's read of the catalog counter.
// They see every change committed before it (here a workflow edited in
// another session), and none after it, which a lookup under no view sees.
func TestCatalogViewReadsTheCounterOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw := openWithRaw(t, 4)
	w := storetest.Workflow("viewed", storetest.NewClock().Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))
	revision := func(ctx context.Context) int {
		t.Helper()
		rev, err := s.WorkflowRevision(ctx, w.ID)
		require.NoError(t, err)
		return rev
	}
	edit := func() {
		t.Helper()
		_, err := raw.ExecContext(ctx, "UPDATE workflows SET revision = revision + 1 WHERE id = $1", w.ID)
		require.NoError(t, err)
	}
	require.Equal(t, 1, revision(ctx)) // kept
	edit()
	view := store.WithCatalogView(ctx)
	require.Equal(t, 2, revision(view), "an edit committed before the view's first lookup is seen")
	edit()
	require.Equal(t, 2, revision(view), "the view's lookups share its first read of the counter")
	require.Equal(t, 3, revision(ctx))
	require.Equal(t, 3, revision(store.WithCatalogView(ctx)))
}
