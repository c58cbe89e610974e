package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// hungPostgres opens a PostgreSQL store with an execution whose row
// another session holds locked until the test ends or release is called:
// a progress write to it hangs, as on a hung connection.
func hungPostgres(t *testing.T) (s *postgres.Store, e *flow.Execution, app string, raw *sql.DB, release func()) {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(storetest.PostgresURL(t))
	require.NoError(t, err)
	app = "flowker-hang-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	s, err = postgres.Open(ctx, u.String(), 8)
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	now := time.Now().UTC().Truncate(time.Microsecond)
	e = storetest.Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
	require.NoError(t, s.CreateExecution(ctx, e))

	raw, err = sql.Open("pgx", u.String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	lock := lockExecution(t, raw, e.ID)
	var once sync.Once
	release = func() { once.Do(func() { _ = lock.Rollback() }) }
	t.Cleanup(release)
	return s, e, app, raw, release
}

// lockExecution holds id's row in a transaction of raw's until the test
// rolls it back, or ends: a row left locked would make every later test's
// cleanup (and migration) wait.
func lockExecution(t *testing.T, raw *sql.DB, id uuid.UUID) *sql.Tx {
	t.Helper()
	ctx := context.Background()
	lock, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lock.Rollback() })
	_, err = lock.ExecContext(ctx, `SELECT id FROM executions WHERE id = $1 FOR UPDATE`, id.String())
	require.NoError(t, err)
	return lock
}

// saveProgress is a group-commit write that waits for e's row lock;
// entered, if not nil, is closed when the loop runs it.
func saveProgress(s store.Store, e *flow.Execution, entered chan struct{}) error {
	ctx := context.Background()
	return s.Batch(ctx, func(tx store.Tx) error {
		if entered != nil {
			close(entered)
		}
		err := tx.SaveProgress(ctx, "me", e, nil, nil)
		return err
	})
}

func createWorkflow(s store.Store, w *flow.Workflow) error {
	ctx := context.Background()
	return s.Batch(ctx, func(tx store.Tx) error { return tx.CreateWorkflow(ctx, w) })
}

func requireUnavailable(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.True(t, store.Transient(err))
	require.Equal(t, flow.KindUnavailable, flow.KindOf(err))
}

// TestBatchDeadline: a batch whose statement hangs (a row lock held by
// another session) ends at the batch deadline; every caller in that batch
// gets ErrUnavailable and none of their writes commit; callers queued
// behind it proceed.
func TestBatchDeadline(t *testing.T) {
	t.Parallel()
	s, e, _, _, release := hungPostgres(t)
	const deadline = time.Second
	sqlstore.SetBatchTimeout(s.DB, deadline)
	c := storetest.NewClock()

	// Hold the loop in one batch until the three callers are queued, so
	// they share the next one.
	gate, entered := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = s.Batch(context.Background(), func(store.Tx) error { close(entered); <-gate; return nil })
	})
	<-entered
	neighbours := []*flow.Workflow{storetest.Workflow("n1", c.Now()), storetest.Workflow("n2", c.Now())}
	errs := make([]error, 3)
	wg.Go(func() { errs[0] = saveProgress(s, e, nil) })
	for i, w := range neighbours {
		wg.Go(func() { errs[i+1] = createWorkflow(s, w) })
	}
	require.Eventually(t, func() bool { return sqlstore.Queued(s.DB) == 3 }, 5*time.Second, time.Millisecond)
	start := time.Now()
	close(gate)
	wg.Wait()
	elapsed := time.Since(start)
	require.Less(t, elapsed, deadline+3*time.Second, "callers answered at the deadline")
	require.GreaterOrEqual(t, elapsed, deadline/2)
	for _, err := range errs {
		requireUnavailable(t, err)
		require.ErrorContains(t, err, "deadline")
	}
	for _, w := range neighbours {
		_, err := s.GetWorkflow(context.Background(), w.ID)
		require.ErrorIs(t, err, flow.ErrWorkflowNotFound, "nothing of the expired batch committed")
	}

	// Writers arriving behind a hung batch go through after its deadline.
	w := storetest.Workflow("late", c.Now())
	var hung sync.WaitGroup
	entered = make(chan struct{})
	hung.Go(func() { _ = saveProgress(s, e, entered) })
	<-entered
	require.NoError(t, createWorkflow(s, w))
	hung.Wait()

	release()
	require.NoError(t, saveProgress(s, e, nil), "the store recovers")
}

// TestCloseHungBatch: Close does not wait for a hung batch beyond its
// grace; the batch's caller gets ErrUnavailable.
func TestCloseHungBatch(t *testing.T) {
	t.Parallel()
	s, e, app, raw, _ := hungPostgres(t)
	sqlstore.SetBatchTimeout(s.DB, time.Minute)
	sqlstore.SetCloseGrace(s.DB, 200*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- saveProgress(s, e, nil) }()
	require.Eventually(t, func() bool { // the write is waiting for the lock
		var n int
		err := raw.QueryRowContext(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&n)
		return err == nil && n == 1
	}, 10*time.Second, 10*time.Millisecond)

	start := time.Now()
	require.NoError(t, s.Close())
	require.Less(t, time.Since(start), 3*time.Second, "Close returned")
	select {
	case err := <-done:
		requireUnavailable(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the hung batch's caller was not answered")
	}
	requireUnavailable(t, createWorkflow(s, storetest.Workflow("after", time.Now())))
}

// TestBatchDeadlineSQLite: the same on SQLite, whose writer is held by
// another connection's open write transaction.
func TestBatchDeadlineSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(ctx, path, "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	defer s.Close()
	const deadline = 500 * time.Millisecond
	sqlstore.SetBatchTimeout(s.DB, deadline)
	raw, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer raw.Close()
	holder, err := raw.Conn(ctx)
	require.NoError(t, err)
	defer holder.Close()
	_, err = holder.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)

	w := storetest.Workflow("blocked", time.Now())
	start := time.Now()
	err = createWorkflow(s, w)
	require.Less(t, time.Since(start), deadline+3*time.Second)
	requireUnavailable(t, err)

	_, err = holder.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, createWorkflow(s, w), "the store recovers")
}

// TestClosedStore: a call that arrives after Close (a request that
// outlived shutdown) is ErrUnavailable — 503, served elsewhere — not a 500.
func TestClosedStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	w := storetest.Workflow("closed", time.Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))
	require.NoError(t, s.Close())
	_, err = s.GetWorkflow(ctx, w.ID)
	requireUnavailable(t, err)
	requireUnavailable(t, s.CreateWorkflow(ctx, storetest.Workflow("late", time.Now())))
	requireUnavailable(t, s.InTx(ctx, func(store.Tx) error { return nil }))
	requireUnavailable(t, createWorkflow(s, storetest.Workflow("batched", time.Now())))
	requireUnavailable(t, s.Ping(ctx))
}

// TestBatchIgnoresACallersCancel: a caller whose context ends while its
// statement runs in a shared batch must not take its neighbours down (a
// cancelled statement aborts the transaction; pgx closes the connection).
// Seen under kill -9 tests: cancelling running executions made concurrent
// starts answer 503.
func TestBatchIgnoresACallersCancel(t *testing.T) {
	t.Parallel()
	s, e, app, raw, release := hungPostgres(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	other := storetest.Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
	require.NoError(t, s.CreateExecution(ctx, other))
	lock2 := lockExecution(t, raw, other.ID)
	waiting := func(n int) func() bool {
		return func() bool {
			var got int
			err := raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&got)
			return err == nil && got == n
		}
	}

	first := make(chan error, 1)
	go func() { first <- saveProgress(s, e, nil) }() // holds the loop until e is released
	require.Eventually(t, waiting(1), 10*time.Second, 10*time.Millisecond)

	// Queued behind it, so they share the next batch: a neighbour, then a
	// caller whose statement will wait for other's row, then be cancelled.
	w := storetest.Workflow("neighbour", now)
	neighbour, cancelled := make(chan error, 1), make(chan error, 1)
	go func() { neighbour <- createWorkflow(s, w) }()
	require.Eventually(t, func() bool { return sqlstore.Queued(s.DB) == 1 }, 10*time.Second, time.Millisecond)
	callerCtx, cancel := context.WithCancel(ctx)
	go func() {
		cancelled <- s.Batch(callerCtx, func(tx store.Tx) error {
			err := tx.SaveProgress(callerCtx, "me", other, nil, nil)
			return err
		})
	}()
	require.Eventually(t, func() bool { return sqlstore.Queued(s.DB) == 2 }, 10*time.Second, time.Millisecond)
	release()
	require.NoError(t, <-first)
	require.Eventually(t, waiting(1), 10*time.Second, 10*time.Millisecond) // the shared batch waits on other's row
	cancel()
	require.NoError(t, lock2.Rollback())
	require.NoError(t, <-cancelled, "a queued write is carried out even if its caller gave up")
	require.NoError(t, <-neighbour, "the neighbour's write must commit")
	_, err := s.GetWorkflow(ctx, w.ID)
	require.NoError(t, err)
}

// A caller whose fn panics gets an error; its neighbours in the batch
// commit, and the writer goes on serving.
func TestBatchSurvivesACallersPanic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openSQLite(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.Batch(ctx, func(tx store.Tx) error {
				if i == 3 {
					panic("a bug in one caller")
				}
				return tx.CreateWorkflow(ctx, storetest.Workflow(fmt.Sprintf("w%d", i), time.Now()))
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i == 3 {
			require.ErrorContains(t, err, "panic in a batched write: a bug in one caller")
			continue
		}
		require.NoError(t, err)
	}
	page, err := s.ListWorkflows(ctx, flow.WorkflowFilter{Page: flow.PageRequest{Limit: 100, SortBy: "name"}})
	require.NoError(t, err)
	require.Len(t, page.Items, 7)
	require.NoError(t, createWorkflow(s, storetest.Workflow("after", time.Now())), "the writer goes on")
}

// TestBatchDeadlineNamesNoCallersError: when a batch fails by its deadline,
// every caller is told the deadline; one caller's own error (here a lease
// lost, found after the deadline passed) is mentioned, but does not match
// for the others, who would otherwise take their executions for lost.
func TestBatchDeadlineNamesNoCallersError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	defer s.Close()
	const deadline = 300 * time.Millisecond
	sqlstore.SetBatchTimeout(s.DB, deadline)

	gate, entered := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Batch(ctx, func(store.Tx) error { close(entered); <-gate; return nil }) })
	<-entered
	errs := make([]error, 2)
	wg.Go(func() {
		errs[0] = s.Batch(ctx, func(store.Tx) error {
			time.Sleep(2 * deadline) // past the deadline, then its own failure
			return store.ErrLeaseLost
		})
	})
	require.Eventually(t, func() bool { return sqlstore.Queued(s.DB) == 1 }, 5*time.Second, time.Millisecond)
	wg.Go(func() { errs[1] = s.Batch(ctx, func(store.Tx) error { return nil }) })
	require.Eventually(t, func() bool { return sqlstore.Queued(s.DB) == 2 }, 5*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()
	for _, err := range errs {
		requireUnavailable(t, err)
		require.ErrorContains(t, err, "deadline")
		require.NotErrorIs(t, err, store.ErrLeaseLost)
	}
	require.ErrorContains(t, errs[1], store.ErrLeaseLost.Error(), "what failed is still told")
}
