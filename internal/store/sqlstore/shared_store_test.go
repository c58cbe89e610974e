package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// onBothStores runs test in parallel subtests, on a fresh store of each kind.
func onBothStores(t *testing.T, test func(t *testing.T, s store.Store)) {
	for name, open := range bothStores() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open(t))
		})
	}
}

func bothStores() map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"sqlite":   func(t *testing.T) store.Store { return openSQLite(t) },
		"postgres": func(t *testing.T) store.Store { return openPostgres(t, storetest.PostgresURL(t), 8) },
	}
}

// openSQLite is a store on a fresh SQLite database (synchronous NORMAL),
// closed when the test ends.
func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openPostgres is a store with a pool of conns on url, closed when the
// test ends (several on one url are several processes).
func openPostgres(t *testing.T, url string, conns int) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, conns)
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestSharedRoutesOddKeys: many concurrent lookups of distinct
// keys (more than one statement's 64), with unusual characters, case
// variants and misses, each answered as a lookup of its own would be.
func TestSharedRoutesOddKeys(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		paths := []string{"/a", "/A", "/a/b", "/it's", `/back\slash`, "/$1", "/?x=1&y=2", "/%20sp ace",
			"/ünï/cødé", "/日本", "/emoji/😀", "/tab\tx", "/nl\nx", "/" + strings.Repeat("l", 2000), "/(a, b)", "/'), ('x"}
		type want struct {
			wf   uuid.UUID
			node string
		}
		routes := map[[2]string]want{}
		for i, p := range paths {
			wf := uuid.New()
			rs := []flow.WebhookRoute{{Method: "POST", Path: p, NodeID: fmt.Sprintf("n%d", i)}}
			routes[[2]string{"POST", p}] = want{wf, rs[0].NodeID}
			if i%2 == 0 {
				rs = append(rs, flow.WebhookRoute{Method: "m-search", Path: p, NodeID: fmt.Sprintf("m%d", i)})
				routes[[2]string{"M-SEARCH", p}] = want{wf, rs[1].NodeID}
			}
			require.NoError(t, s.ReplaceWebhookRoutes(ctx, wf, rs))
		}
		for i := range 80 { // more distinct keys than one statement reads
			wf := uuid.New()
			p := fmt.Sprintf("/bulk/%d", i)
			require.NoError(t, s.ReplaceWebhookRoutes(ctx, wf, []flow.WebhookRoute{{Method: "PUT", Path: p, NodeID: "b"}}))
			routes[[2]string{"PUT", p}] = want{wf, "b"}
		}
		type ask struct{ method, path string }
		var asks []ask
		for k := range routes {
			asks = append(asks, ask{k[0], k[1]}, ask{strings.ToLower(k[0]), k[1]}, ask{"GET", k[1]},
				ask{k[0], k[1] + " "}, ask{k[0], strings.ToUpper(k[1])})
		}
		for round := range 2 {
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, a := range asks {
				wg.Go(func() {
					<-start
					got, err := s.FindWebhookRoute(ctx, a.method, a.path)
					w, ok := routes[[2]string{strings.ToUpper(a.method), a.path}]
					if !ok {
						assert.ErrorIs(t, err, flow.ErrWebhookNotFound, "%q %q", a.method, a.path)
						return
					}
					if assert.NoError(t, err, "%q %.40q", a.method, a.path) {
						assert.Equal(t, w.wf, got.WorkflowID)
						assert.Equal(t, w.node, got.NodeID)
						assert.Equal(t, a.path, got.Path)
						assert.Equal(t, strings.ToUpper(a.method), got.Method)
						got.NodeID, got.Path = "mine", "mine" // own copy
					}
				})
			}
			close(start)
			wg.Wait()
			_ = round
		}
	})
}

// TestSharedReadsAfterClose: while a shared read is blocked (a lock held
// by another session), Close ends it and answers its callers soon, and a
// call made after Close fails at once (ErrUnavailable), as a read of its
// own on a closed pool does.
func TestSharedReadsAfterClose(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	s := openPostgres(t, url, 4)
	p := storetest.ProviderConfig("close-while-reading", "tracer", storetest.NewClock().Now())
	require.NoError(t, s.CreateProviderConfig(ctx, p))
	_, err := s.ProviderConfigRevision(ctx, p.ID)
	require.NoError(t, err)

	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer raw.Close()
	tx, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	// The lookup reads the catalog's counter first (catalogCache), then the revision.
	_, err = tx.ExecContext(ctx, "LOCK TABLE catalog_version, provider_configurations IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	var holder int
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&holder))

	type answer struct {
		err  error
		took time.Duration
	}
	first := make(chan answer, 1)
	go func() {
		began := time.Now()
		_, err := s.ProviderConfigRevision(ctx, p.ID)
		first <- answer{err, time.Since(began)}
	}()
	require.Eventually(t, func() bool {
		var n int
		_ = raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE $1 = ANY(pg_blocking_pids(pid)) AND query LIKE '%FROM catalog_version%'`, holder).Scan(&n)
		return n > 0
	}, 5*time.Second, 20*time.Millisecond, "the shared read waits for the lock")

	closedAt := time.Now()
	require.NoError(t, s.Close())
	after, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	began := time.Now()
	_, err = s.ProviderConfigRevision(after, p.ID)
	took := time.Since(began)
	require.Error(t, err)
	t.Logf("call after Close: %v after %v", err, took)
	a := <-first
	t.Logf("caller waiting at Close: %v, %v after Close", a.err, time.Since(closedAt))
	assert.Less(t, time.Since(closedAt), 2*time.Second, "a caller waiting at Close is answered soon after it")
	assert.Less(t, took, 2*time.Second, "a call after Close fails at once, as a read on a closed pool does")
	assert.True(t, errors.Is(err, store.ErrUnavailable), "unavailable after Close: %v", err)
}

// TestSharedRoutesHugeKey: a caller's huge path (1 MiB, as an
// HTTP request may carry) shares the statement of others' lookups; it must
// not fail theirs.
func TestSharedRoutesHugeKey(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		wf := uuid.New()
		require.NoError(t, s.ReplaceWebhookRoutes(ctx, wf, []flow.WebhookRoute{{Method: "POST", Path: "/ok", NodeID: "n"}}))
		huge := "/" + strings.Repeat("x", 1<<20)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				if i%4 == 0 {
					_, err := s.FindWebhookRoute(ctx, "POST", huge+fmt.Sprint(i))
					assert.ErrorIs(t, err, flow.ErrWebhookNotFound)
					return
				}
				got, err := s.FindWebhookRoute(ctx, "post", "/ok")
				if assert.NoError(t, err) {
					assert.Equal(t, wf, got.WorkflowID)
				}
			})
		}
		wg.Wait()
	})
}

// TestSharedRevisionsFreshIdleReaders: readers that come and go (the reader
// goroutine exits and restarts between them), and a disable applies to the
// next read.
func TestSharedRevisionsFreshIdleReaders(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, s store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := storetest.ProviderConfig("fresh", "tracer", storetest.NewClock().Now())
		require.NoError(t, s.CreateProviderConfig(ctx, p))
		others := make([]uuid.UUID, 3)
		for i := range others {
			o := storetest.ProviderConfig(fmt.Sprintf("other-%d", i), "tracer", storetest.NewClock().Now())
			require.NoError(t, s.CreateProviderConfig(ctx, o))
			others[i] = o.ID
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					id := p.ID
					if (g+i)%2 == 0 {
						id = others[(g+i)%3]
					}
					_, _ = s.ProviderConfigRevision(ctx, id)
					if i%7 == 0 {
						time.Sleep(time.Duration(g) * 300 * time.Microsecond)
					}
				}
			})
		}
		for rev := 2; rev <= 40; rev++ {
			p.Description, p.Revision = fmt.Sprint(rev), rev
			require.NoError(t, s.UpdateProviderConfig(ctx, p, rev-1))
			got, err := s.ProviderConfigRevision(ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, rev, got)
			if rev%5 == 0 {
				time.Sleep(2 * time.Millisecond)
			}
		}
		require.NoError(t, s.DeleteProviderConfig(ctx, p.ID, 40))
		_, err := s.ProviderConfigRevision(ctx, p.ID)
		require.ErrorIs(t, err, flow.ErrProviderConfigNotFound)
	})
}
