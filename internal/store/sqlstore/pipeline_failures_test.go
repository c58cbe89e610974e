package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// pipelinedStore opens a pipelined PostgreSQL store (at most 3 connections, so
// a leaked connection soon blocks the writer) whose sessions carry a unique
// application_name; raw is a separate pool on the same schema for
// inspection and locks.
func pipelinedStore(t *testing.T, params ...string) (s *sqlstore.DB, raw *sql.DB, app string) {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(storetest.PostgresURL(t))
	require.NoError(t, err)
	rawURL := u.String()
	app = "flowker-pipe-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	q := u.Query()
	q.Set("application_name", app)
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	if len(params) > 0 { // migrate without them: a lock_timeout would fail migrations waiting on other tests
		plain, err := postgres.Open(ctx, rawURL, 1)
		require.NoError(t, err)
		plain.UseAuditKey(storetest.AuditKey)
		require.NoError(t, plain.Close())
	}
	u.RawQuery = q.Encode()
	ps, err := postgres.Open(ctx, u.String(), 3)
	require.NoError(t, err)
	ps.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = ps.Close() })
	raw, err = sql.Open("pgx", rawURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	return ps.DB, raw, app
}

func pipelinedExec(t *testing.T, s *sqlstore.DB, owner string) *flow.Execution {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := storetest.Execution(uuid.New(), flow.ExecRunning, now, owner, now.Add(time.Hour))
	require.NoError(t, s.CreateExecution(context.Background(), e))
	return e
}

func pipelinedStep(e *flow.Execution, n int) flow.Step {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return flow.Step{ExecutionID: e.ID, Number: n, NodeID: "kyc", Name: "KYC", Status: flow.StepCompleted,
		Attempts: 1, StartedAt: now, CompletedAt: now}
}

func pipelinedEvent(i int) *audit.Event {
	return &audit.Event{ID: uuid.New(), Timestamp: time.Now().UTC().Truncate(time.Microsecond),
		EventType: "EXECUTION_COMPLETED", Action: "EXECUTE", Result: "SUCCESS", ResourceType: "execution",
		ResourceID: fmt.Sprint(i), Metadata: map[string]any{"i": float64(i)}} // nil Metadata hashes differently from the stored {} (not this change)
}

// holdLoop occupies the group-commit loop until release is called, so the
// callers queued meanwhile share the next batch.
func holdLoop(t *testing.T, s *sqlstore.DB) (release func()) {
	t.Helper()
	gate, entered := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Batch(context.Background(), func(store.Tx) error { close(entered); <-gate; return nil })
	}()
	<-entered
	var once sync.Once
	release = func() { once.Do(func() { close(gate); <-done }) }
	t.Cleanup(release)
	return release
}

// sessionsInTx counts this store's sessions left inside a transaction.
func sessionsInTx(t *testing.T, raw *sql.DB, app string) int {
	t.Helper()
	var n int
	require.NoError(t, raw.QueryRowContext(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE application_name = $1 AND state LIKE 'idle in transaction%'`, app).Scan(&n))
	return n
}

// requireHealthyPool: no session of the store is left in a transaction,
// at most the pool's 3 sessions exist, and 6 sequential batches plus
// concurrent reads go through (a leaked connection would block them).
func requireHealthyPool(t *testing.T, s *sqlstore.DB, raw *sql.DB, app string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 6 {
		require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
			return tx.CreateWorkflow(ctx, storetest.Workflow("healthy-"+uuid.NewString(), time.Now()))
		}), "batch %d", i)
		_, err := s.ListWorkflows(ctx, flow.WorkflowFilter{Page: flow.PageRequest{Limit: 1, SortBy: "name"}})
		require.NoError(t, err)
	}
	require.Zero(t, sessionsInTx(t, raw, app))
	var n int
	require.NoError(t, raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`,
		app).Scan(&n))
	require.LessOrEqual(t, n, 3)
}

func verifyChain(t *testing.T, s store.Store) {
	t.Helper()
	v := audit.NewVerifier(s.AuditKey(), 0, "")
	require.NoError(t, s.WalkAudit(context.Background(), 1, 1<<62, v.Check))
	r := v.Result()
	require.True(t, r.Valid, r.Reason)
}

// TestPipelinedLeaseLostAloneStoresNothing: a lone progress write whose
// lease is lost, with no audit event (the engine's intermediate saves),
// writes nothing. The UPDATE's handler rejects its result (no row) after
// the server ran the steps' INSERT: COMMIT must not have been sent with it.
func TestPipelinedLeaseLostAloneStoresNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := pipelinedStore(t)
	e := pipelinedExec(t, s, "thief")
	progress := *e
	progress.CurrentStep = 1
	err := s.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, "me", &progress, []flow.Step{pipelinedStep(e, 1)}, nil)
	})
	require.ErrorIs(t, err, store.ErrLeaseLost)
	steps, err := s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Empty(t, steps, "a write fenced on a lost lease left its steps behind")
}

// TestPipelinedLeaseLostNeighboursCommit: neighbours sharing that batch
// are committed once, by the rerun with savepoints, and told so.
func TestPipelinedLeaseLostNeighboursCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := pipelinedStore(t)
	e := pipelinedExec(t, s, "thief")
	release := holdLoop(t, s)
	w := storetest.Workflow("neighbour", time.Now())
	good := pipelinedExec(t, s, "me") // an engine's intermediate save sharing the batch
	var wg sync.WaitGroup
	var lostErr, neighbourErr, goodErr error
	wg.Go(func() {
		goodErr = s.Batch(ctx, func(tx store.Tx) error {
			return tx.SaveProgress(ctx, "me", good, []flow.Step{pipelinedStep(good, 1)}, nil)
		})
	})
	wg.Go(func() {
		lostErr = s.Batch(ctx, func(tx store.Tx) error {
			return tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil)
		})
	})
	wg.Go(func() {
		neighbourErr = s.Batch(ctx, func(tx store.Tx) error { return tx.CreateWorkflow(ctx, w) })
	})
	require.Eventually(t, func() bool { return sqlstore.Queued(s) == 3 }, 5*time.Second, time.Millisecond)
	release()
	wg.Wait()
	t.Logf("lost: %v; good save: %v; neighbour: %v", lostErr, goodErr, neighbourErr)
	require.ErrorIs(t, lostErr, store.ErrLeaseLost)
	steps, err := s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Empty(t, steps, "the lost lease's steps")
	steps, err = s.ListSteps(ctx, good.ID)
	require.NoError(t, err)
	require.Len(t, steps, 1)
	require.NoError(t, goodErr, "the good save committed: its caller must be told so")
	_, getErr := s.GetWorkflow(ctx, w.ID)
	require.NoError(t, getErr, "the neighbour's workflow is stored")
	require.NoError(t, neighbourErr, "…so its caller must be told it committed")
}

// TestPipelinedDeadlineNeverCommitsLater: a batch blocked on a row lock
// held elsewhere ends at its deadline with ErrUnavailable for every
// caller, and stays uncommitted once the lock is released. Its statements
// travel with COMMIT (a progress write alone is one round trip, BEGIN to
// COMMIT), and the server would run what it had received: the round trip
// is cancelled on the server, not abandoned.
func TestPipelinedDeadlineNeverCommitsLater(t *testing.T) {
	t.Parallel()
	for _, withWorkflow := range []bool{false, true} {
		t.Run(map[bool]string{false: "progress alone", true: "with a workflow"}[withWorkflow], func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, raw, app := pipelinedStore(t)
			sqlstore.SetBatchTimeout(s, time.Second)
			e := pipelinedExec(t, s, "me")
			lock := lockExecution(t, raw, e.ID)

			w := storetest.Workflow("told-unavailable", time.Now())
			progress := *e
			progress.CurrentStep = 7
			err := s.Batch(ctx, func(tx store.Tx) error {
				if err := tx.SaveProgress(ctx, "me", &progress, []flow.Step{pipelinedStep(e, 1)}, nil); err != nil ||
					!withWorkflow {
					return err
				}
				return tx.CreateWorkflow(ctx, w)
			})
			require.ErrorIs(t, err, store.ErrUnavailable)
			require.NoError(t, lock.Rollback())
			time.Sleep(time.Second) // what an orphaned backend had received would run now
			_, getErr := s.GetWorkflow(ctx, w.ID)
			require.ErrorIs(t, getErr, flow.ErrWorkflowNotFound, "a caller told ErrUnavailable had its write committed")
			steps, err := s.ListSteps(ctx, e.ID)
			require.NoError(t, err)
			require.Empty(t, steps, "a caller told ErrUnavailable had its write committed")
			got, err := s.GetExecution(ctx, e.ID)
			require.NoError(t, err)
			require.Zero(t, got.CurrentStep)
			requireHealthyPool(t, s, raw, app)
		})
	}
}

// TestPipelinedCommitWaitsPrepared: the events' insert is not prepared on
// the writer's connection yet, and preparing it waits for a table lock (a
// CREATE INDEX, a LOCK TABLE) for most of the batch's time; executing it
// then waits for another lock (the sequence's, an ALTER SEQUENCE in an open
// transaction) released just after the deadline. The round trip carries
// COMMIT, so it is cancelled on the server, not abandoned: the caller gets
// ErrUnavailable and nothing commits (found by a review, with the lock
// bound computed before the prepare that an earlier version sent).
func TestPipelinedCommitWaitsPrepared(t *testing.T) {
	// Not parallel: its batch holds the audit lock (one key for the
	// database) until its deadline, which would fail other tests' batches.
	ctx := context.Background()
	s, raw, app := pipelinedStore(t)
	const deadline = 2 * time.Second
	sqlstore.SetBatchTimeout(s, deadline)
	seq, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = seq.Rollback() }()
	_, err = seq.ExecContext(ctx, `ALTER SEQUENCE audit_events_seq_seq CACHE 1`)
	require.NoError(t, err)
	table, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = table.Rollback() }()
	_, err = table.ExecContext(ctx, `LOCK TABLE audit_events IN SHARE MODE`)
	require.NoError(t, err)

	w := storetest.Workflow("prepared-late", time.Now())
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		done <- s.Batch(ctx, func(tx store.Tx) error {
			if err := tx.CreateWorkflow(ctx, w); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, pipelinedEvent(7))
		})
	}()
	time.Sleep(time.Until(start.Add(deadline * 7 / 10)))
	require.NoError(t, table.Rollback())
	err = <-done
	require.NoError(t, seq.Rollback())
	require.ErrorIs(t, err, store.ErrUnavailable)
	time.Sleep(500 * time.Millisecond) // what an orphaned backend had received would run now
	_, err = s.GetWorkflow(ctx, w.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound, "a caller told ErrUnavailable had its write committed")
	requireHealthyPool(t, s, raw, app)
}

// TestPipelinedProgressWaitsPrepared: the same for a progress write alone
// (sent with COMMIT): executions is SHARE-locked while its statements are
// prepared, and its row held by another transaction until just after the
// deadline.
func TestPipelinedProgressWaitsPrepared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw, app := pipelinedStore(t)
	const deadline = 2 * time.Second
	sqlstore.SetBatchTimeout(s, deadline)
	e := pipelinedExec(t, s, "me")
	row := lockExecution(t, raw, e.ID)
	table, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = table.Rollback() }()
	_, err = table.ExecContext(ctx, `LOCK TABLE executions IN SHARE MODE`)
	require.NoError(t, err)
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		done <- s.Batch(ctx, func(tx store.Tx) error {
			return tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil)
		})
	}()
	time.Sleep(time.Until(start.Add(deadline * 7 / 10)))
	require.NoError(t, table.Rollback())
	err = <-done
	require.NoError(t, row.Rollback())
	require.ErrorIs(t, err, store.ErrUnavailable)
	time.Sleep(500 * time.Millisecond)
	steps, err := s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Empty(t, steps, "a caller told ErrUnavailable had its progress committed")
	requireHealthyPool(t, s, raw, app)
}

// TestPipelinedDeadlineWithAudit: the same with an audit event: the first flush
// ends at the head read (no COMMIT in it), so nothing may commit; the
// connection is dropped, and later batches work and the chain verifies.
func TestPipelinedDeadlineWithAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw, app := pipelinedStore(t)
	sqlstore.SetBatchTimeout(s, time.Second)
	e := pipelinedExec(t, s, "me")
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, pipelinedEvent(0)) }))
	lock := lockExecution(t, raw, e.ID)
	w := storetest.Workflow("with-audit", time.Now())
	ev := pipelinedEvent(1)
	err := s.Batch(ctx, func(tx store.Tx) error {
		if err := tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil); err != nil {
			return err
		}
		if err := tx.CreateWorkflow(ctx, w); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, ev)
	})
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.NoError(t, lock.Rollback())
	time.Sleep(time.Second)
	_, getErr := s.GetWorkflow(ctx, w.ID)
	require.ErrorIs(t, getErr, flow.ErrWorkflowNotFound)
	_, getErr = s.GetAudit(ctx, ev.ID)
	require.ErrorIs(t, getErr, store.ErrAuditNotFound)
	require.Zero(t, sessionsInTx(t, raw, app))
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
		if err := tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, pipelinedEvent(2))
	}))
	verifyChain(t, s)
	requireHealthyPool(t, s, raw, app)
}

// lockAuditEvents takes a SHARE lock on audit_events in a transaction of
// raw, as a CREATE INDEX or an operator's LOCK TABLE would: the events'
// insert waits for it. The insert is prepared on s's writer first (one
// batch with an event): preparing it takes the table's lock too, before
// any statement of the round trip runs.
func lockAuditEvents(t *testing.T, s *sqlstore.DB, raw *sql.DB) *sql.Tx {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, pipelinedEvent(0)) }))
	lock, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = lock.ExecContext(ctx, `LOCK TABLE audit_events IN SHARE MODE`)
	require.NoError(t, err)
	return lock
}

// TestPipelinedDeadlineWhileEventsWait: the audit events' insert waits too
// (here for a SHARE lock on the table: a CREATE INDEX of a newer replica's
// migration, an operator's LOCK TABLE) until the batch's deadline. Every
// caller is told ErrUnavailable, and nothing commits once the lock goes: so
// COMMIT must not travel with the events (found by a review: it did for a
// while, and this batch committed a second after its callers were told it
// had not).
func TestPipelinedDeadlineWhileEventsWait(t *testing.T) {
	// Not parallel: its batch holds the audit lock (one key for the
	// database) until its deadline, which would fail other tests' batches.
	ctx := context.Background()
	s, raw, app := pipelinedStore(t)
	sqlstore.SetBatchTimeout(s, time.Second)
	lock := lockAuditEvents(t, s, raw)
	defer func() { _ = lock.Rollback() }()

	w := storetest.Workflow("events-waited", time.Now())
	ev := pipelinedEvent(1)
	err := s.Batch(ctx, func(tx store.Tx) error {
		if err := tx.CreateWorkflow(ctx, w); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, ev)
	})
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.NoError(t, lock.Rollback())
	time.Sleep(time.Second) // what the orphaned backend had received runs now
	_, err = s.GetWorkflow(ctx, w.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound, "a caller told ErrUnavailable had its write committed")
	_, err = s.GetAudit(ctx, ev.ID)
	require.ErrorIs(t, err, store.ErrAuditNotFound)
	verifyChain(t, s)
	requireHealthyPool(t, s, raw, app)
}

// TestPipelinedTerminateBackend: the writer's backend is killed while a batch
// waits for a row lock: the caller gets ErrUnavailable, nothing commits,
// the dead connection is not reused, later batches work.
func TestPipelinedTerminateBackend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw, app := pipelinedStore(t)
	e := pipelinedExec(t, s, "me")
	lock := lockExecution(t, raw, e.ID)
	w := storetest.Workflow("killed", time.Now())
	done := make(chan error, 1)
	go func() {
		done <- s.Batch(ctx, func(tx store.Tx) error {
			if err := tx.CreateWorkflow(ctx, w); err != nil {
				return err
			}
			return tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil)
		})
	}()
	var pid int
	require.Eventually(t, func() bool {
		err := raw.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&pid)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	_, err := raw.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	select {
	case err := <-done:
		t.Logf("caller got: %v", err)
		require.Error(t, err)
		require.ErrorIs(t, err, store.ErrUnavailable)
	case <-time.After(15 * time.Second):
		t.Fatal("no answer")
	}
	require.NoError(t, lock.Rollback())
	_, getErr := s.GetWorkflow(ctx, w.ID)
	require.ErrorIs(t, getErr, flow.ErrWorkflowNotFound)
	for i := range 3 {
		require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
			return tx.CreateWorkflow(ctx, storetest.Workflow(fmt.Sprint("after-", i), time.Now()))
		}))
	}
	require.Zero(t, sessionsInTx(t, raw, app))
	requireHealthyPool(t, s, raw, app)
}

// TestPipelinedLockTimeout: a server-side lock_timeout while the
// pipelined UPDATE waits for a row lock.
func TestPipelinedLockTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw, app := pipelinedStore(t, "lock_timeout", "300") // not statement_timeout: a busy machine slows other statements past it
	e := pipelinedExec(t, s, "me")
	lock := lockExecution(t, raw, e.ID)
	release := holdLoop(t, s)
	w := storetest.Workflow("neighbour", time.Now())
	var wg sync.WaitGroup
	var saveErr, wfErr error
	wg.Go(func() {
		saveErr = s.Batch(ctx, func(tx store.Tx) error {
			return tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil)
		})
	})
	wg.Go(func() { wfErr = s.Batch(ctx, func(tx store.Tx) error { return tx.CreateWorkflow(ctx, w) }) })
	require.Eventually(t, func() bool { return sqlstore.Queued(s) == 2 }, 5*time.Second, time.Millisecond)
	release()
	wg.Wait()
	t.Logf("save: %v; neighbour: %v", saveErr, wfErr)
	require.Error(t, saveErr)
	_, getErr := s.GetWorkflow(ctx, w.ID)
	require.Equal(t, wfErr == nil, getErr == nil, "neighbour's outcome matches what is stored: %v / %v", wfErr, getErr)
	require.NoError(t, lock.Rollback())
	time.Sleep(300 * time.Millisecond)
	steps, _ := s.ListSteps(ctx, e.ID)
	require.Empty(t, steps)
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil)
	}))
	require.Zero(t, sessionsInTx(t, raw, app))
	requireHealthyPool(t, s, raw, app)
}

// TestPipelinedPanicAndErrorAfterQueue: a caller whose fn queues writes then
// panics or returns an error, alone and among neighbours; audit chain
// intact; nothing of the failing callers stored.
func TestPipelinedPanicAndErrorAfterQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw, app := pipelinedStore(t)
	boom := errors.New("boom")
	// Alone.
	wa := storetest.Workflow("alone-err", time.Now())
	err := s.Batch(ctx, func(tx store.Tx) error {
		if err := tx.CreateWorkflow(ctx, wa); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, pipelinedEvent(1)); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	wp := storetest.Workflow("alone-panic", time.Now())
	err = s.Batch(ctx, func(tx store.Tx) error {
		_ = tx.CreateWorkflow(ctx, wp)
		panic("after queue")
	})
	require.ErrorContains(t, err, "after queue")
	for _, w := range []*flow.Workflow{wa, wp} {
		_, err := s.GetWorkflow(ctx, w.ID)
		require.ErrorIs(t, err, flow.ErrWorkflowNotFound)
	}
	// Among neighbours, with audit events.
	for round := range 3 {
		release := holdLoop(t, s)
		const n = 6
		errs := make([]error, n)
		ws := make([]*flow.Workflow, n)
		evs := make([]*audit.Event, n)
		var wg sync.WaitGroup
		for i := range n {
			ws[i] = storetest.Workflow(fmt.Sprintf("r%d-w%d", round, i), time.Now())
			evs[i] = pipelinedEvent(i)
			wg.Go(func() {
				errs[i] = s.Batch(ctx, func(tx store.Tx) error {
					if err := tx.CreateWorkflow(ctx, ws[i]); err != nil {
						return err
					}
					if err := tx.AppendAudit(ctx, evs[i]); err != nil {
						return err
					}
					switch i {
					case 1:
						panic("neighbour panics")
					case 3:
						return boom
					}
					return nil
				})
			})
		}
		require.Eventually(t, func() bool { return sqlstore.Queued(s) == n }, 5*time.Second, time.Millisecond)
		release()
		wg.Wait()
		for i := range n {
			_, gErr := s.GetWorkflow(ctx, ws[i].ID)
			_, aErr := s.GetAudit(ctx, evs[i].ID)
			switch i {
			case 1:
				require.ErrorContains(t, errs[i], "neighbour panics")
			case 3:
				require.ErrorIs(t, errs[i], boom)
			default:
				require.NoError(t, errs[i], "caller %d", i)
			}
			require.Equal(t, errs[i] == nil, gErr == nil, "caller %d", i)
			require.Equal(t, errs[i] == nil, aErr == nil, "caller %d", i)
		}
	}
	verifyChain(t, s)
	require.Zero(t, sessionsInTx(t, raw, app))
	requireHealthyPool(t, s, raw, app)
}

// TestPipelinedAbortedCommitIsAnError: a caller's fn handles a domain
// error of a statement that ran at once (a name already used) and goes on;
// PostgreSQL has aborted the transaction and answers COMMIT with the tag
// ROLLBACK and no error. The batch must not report success for writes that
// were rolled back (pgx's Tx.Commit, the classic path, checks the tag too).
func TestPipelinedAbortedCommitIsAnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw, app := pipelinedStore(t)
	taken := storetest.Workflow("taken", time.Now())
	x := storetest.Workflow("x", time.Now())
	for _, w := range []*flow.Workflow{taken, x} {
		require.NoError(t, s.CreateWorkflow(ctx, w))
	}
	fresh := storetest.Workflow("fresh", time.Now())
	var updErr error
	err := s.Batch(ctx, func(tx store.Tx) error {
		if err := tx.CreateWorkflow(ctx, fresh); err != nil {
			return err
		}
		renamed := *x
		renamed.Name = "taken"
		updErr = tx.UpdateWorkflow(ctx, &renamed, x.Revision)
		if errors.Is(updErr, flow.ErrWorkflowNameUsed) {
			return nil // handled: keep the old name
		}
		return updErr
	})
	require.ErrorIs(t, updErr, flow.ErrWorkflowNameUsed)
	_, getErr := s.GetWorkflow(ctx, fresh.ID)
	t.Logf("Batch: %v; fresh stored: %v", err, getErr == nil)
	require.Equal(t, err == nil, getErr == nil, "Batch returned %v but the workflow stored = %v", err, getErr == nil)
	requireHealthyPool(t, s, raw, app)
}

// TestPipelinedHeadScanAndSeq: the pipelined head read (pgx scanning into
// dbTime) raises an earlier event's timestamp to the head's, and the
// RETURNING handler (dbUUID) sets every event's Seq, across a multi-row
// chunk boundary (more than 64 events in one batch).
func TestPipelinedHeadScanAndSeq(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw, app := pipelinedStore(t)
	head := pipelinedEvent(0)
	head.Timestamp = time.Date(2026, 6, 1, 12, 0, 0, 123456000, time.UTC)
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, head) }))
	require.NotZero(t, head.Seq)
	const n = 70
	evs := make([]*audit.Event, n)
	errs := make([]error, n)
	release := holdLoop(t, s)
	var wg sync.WaitGroup
	for i := range n {
		evs[i] = pipelinedEvent(i + 1)
		evs[i].Timestamp = head.Timestamp.Add(-time.Duration(i+1) * time.Hour)
		wg.Go(func() { errs[i] = s.Batch(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, evs[i]) }) })
	}
	require.Eventually(t, func() bool { return sqlstore.Queued(s) == n }, 5*time.Second, time.Millisecond)
	release()
	wg.Wait()
	seqs := map[int64]bool{}
	for i, e := range evs {
		require.NoError(t, errs[i])
		require.True(t, e.Timestamp.Equal(head.Timestamp), "event %d raised to the head: %v", i, e.Timestamp)
		got, err := s.GetAudit(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, got.Seq, e.Seq, "event %d's seq", i)
		require.Equal(t, got.Hash, e.Hash)
		require.False(t, seqs[e.Seq])
		seqs[e.Seq] = true
	}
	verifyChain(t, s)
	requireHealthyPool(t, s, raw, app)
}
