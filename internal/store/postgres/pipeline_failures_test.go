package postgres

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestPipelinedPoolAfterFailures: after each way a pipelined batch can
// fail — a handler's error (lease lost), a server error at a flush (key
// used), a caller's panic and error after queuing, a lock_timeout, the
// writer's backend terminated — no connection is leaked (db.Stats), none is
// left inside a transaction, and the next batches work.
func TestPipelinedPoolAfterFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u, err := url.Parse(storetest.PostgresURL(t))
	require.NoError(t, err)
	rawURL := u.String()
	app := "flowker-pipepool-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:10]
	q := u.Query()
	q.Set("application_name", app)
	q.Set("lock_timeout", "2000") // ms: a lock wait below ends by the server
	u.RawQuery = q.Encode()
	plain, err := Open(ctx, rawURL, 1) // migrate without the lock_timeout: a migration may wait on other tests
	require.NoError(t, err)
	plain.UseAuditKey(storetest.AuditKey)
	require.NoError(t, plain.Close())
	db, err := sql.Open("pgx", u.String())
	require.NoError(t, err)
	const maxConns = 3
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s, err := sqlstore.Open(ctx, db, db, dialect(nil))
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	raw, err := sql.Open("pgx", rawURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })

	now := time.Now().UTC().Truncate(time.Microsecond)
	check := func(what string) {
		t.Helper()
		for i := range 4 {
			require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
				return tx.CreateWorkflow(ctx, storetest.Workflow("ok-"+uuid.NewString(), time.Now()))
			}), "%s: batch %d after", what, i)
		}
		require.Eventually(t, func() bool { return db.Stats().InUse == 0 }, 5*time.Second, 10*time.Millisecond,
			"%s: %+v", what, db.Stats())
		require.LessOrEqual(t, db.Stats().OpenConnections, maxConns)
		var inTx int
		require.NoError(t, raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND state LIKE 'idle in transaction%'`, app).Scan(&inTx))
		require.Zero(t, inTx, what)
	}

	lost := storetest.Execution(uuid.New(), flow.ExecRunning, now, "thief", now.Add(time.Hour))
	require.NoError(t, s.CreateExecution(ctx, lost))
	err = s.Batch(ctx, func(tx store.Tx) error { return tx.SaveProgress(ctx, "me", lost, nil, nil) })
	require.ErrorIs(t, err, store.ErrLeaseLost)
	check("lease lost")

	w := storetest.Workflow("dup", now)
	require.NoError(t, s.CreateWorkflow(ctx, w))
	err = s.Batch(ctx, func(tx store.Tx) error { return tx.CreateWorkflow(ctx, w) })
	require.Error(t, err)
	check("key used")

	err = s.Batch(ctx, func(tx store.Tx) error {
		_ = tx.CreateWorkflow(ctx, storetest.Workflow("p", now))
		panic("boom")
	})
	require.ErrorContains(t, err, "boom")
	check("panic")
	boom := errors.New("boom")
	err = s.Batch(ctx, func(tx store.Tx) error {
		_ = tx.CreateWorkflow(ctx, storetest.Workflow("e", now))
		_, _ = tx.GetWorkflow(ctx, w.ID) // a flush: the insert is sent
		return boom
	})
	require.ErrorIs(t, err, boom)
	check("error after a flush")

	err = s.Batch(ctx, func(tx store.Tx) error {
		if _, err := tx.GetWorkflow(ctx, w.ID); err != nil { // BEGIN sent
			return err
		}
		_, err := tx.ListWorkflows(ctx, flow.WorkflowFilter{Page: flow.PageRequest{Limit: 1, SortBy: "name"}})
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, nil) // a nil event: the caller's bug
	})
	t.Logf("nil event: %v", err)
	check("nil event")

	// The server refuses the events' insert, sent with COMMIT (an event id
	// already stored): nothing of the batch is stored.
	first := &audit.Event{ID: uuid.New(), Timestamp: now, EventType: "T", Action: "A", Result: "SUCCESS",
		ResourceType: "r", ResourceID: "1"}
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, first) }))
	again := storetest.Workflow("event-refused", now)
	err = s.Batch(ctx, func(tx store.Tx) error {
		if err := tx.CreateWorkflow(ctx, again); err != nil {
			return err
		}
		dup := *first
		return tx.AppendAudit(ctx, &dup)
	})
	require.Error(t, err)
	_, err = s.GetWorkflow(ctx, again.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound, "rolled back with the refused event")
	check("event refused")

	// The writer's backend terminated while it waits for a row lock.
	e := storetest.Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
	require.NoError(t, s.CreateExecution(ctx, e))
	lock, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = lock.Rollback() }() // a failed assertion must not leave the row locked (cleanup would wait)
	_, err = lock.ExecContext(ctx, `SELECT id FROM executions WHERE id = $1 FOR UPDATE`, e.ID.String())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- s.Batch(ctx, func(tx store.Tx) error { return tx.SaveProgress(ctx, "me", e, nil, nil) })
	}()
	var pid int
	require.Eventually(t, func() bool {
		return raw.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&pid) == nil
	}, 10*time.Second, 10*time.Millisecond)
	_, err = raw.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	require.ErrorIs(t, <-done, store.ErrUnavailable)
	require.NoError(t, lock.Rollback())
	check("terminated")

	// A lock_timeout while it waits for a row lock.
	lock, err = raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = lock.Rollback() }()
	_, err = lock.ExecContext(ctx, `SELECT id FROM executions WHERE id = $1 FOR UPDATE`, e.ID.String())
	require.NoError(t, err)
	err = s.Batch(ctx, func(tx store.Tx) error {
		if _, err := tx.GetWorkflow(ctx, w.ID); err != nil { // BEGIN
			return err
		}
		if _, err := tx.ListWorkflows(ctx, flow.WorkflowFilter{Page: flow.PageRequest{Limit: 1, SortBy: "name"}}); err != nil {
			return err
		}
		return tx.SaveProgress(ctx, "me", e, nil, nil)
	})
	require.ErrorContains(t, err, "lock timeout")
	require.NoError(t, lock.Rollback())
	check("lock timeout")
}
