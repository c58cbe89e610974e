package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/storetest"
)

func TestInTxEdgesOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, raw, app := pipelinedStore(t)
	mine := errors.New("mine")

	// no statement at all
	require.NoError(t, s.InTx(ctx, func(store.Tx) error { return nil }))
	require.ErrorIs(t, s.InTx(ctx, func(store.Tx) error { return mine }), mine)

	// ctx cancelled before
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err := s.InTx(cctx, func(tx store.Tx) error { return tx.CreateWorkflow(cctx, storetest.Workflow("x", time.Now())) })
	t.Logf("cancelled before: %v", err)
	require.ErrorIs(t, err, context.Canceled)

	// panic after a statement
	w := storetest.Workflow("panics", time.Now())
	require.Panics(t, func() {
		_ = s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.CreateWorkflow(ctx, w); err != nil {
				return err
			}
			panic("boom")
		})
	})
	_, err = s.GetWorkflow(ctx, w.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound)

	// reads of its own writes, nested
	w2 := storetest.Workflow("reads", time.Now())
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateWorkflow(ctx, w2); err != nil {
			return err
		}
		got, err := tx.GetWorkflow(ctx, w2.ID)
		if err != nil {
			return err
		}
		require.Equal(t, w2.ID, got.ID)
		return nil
	}))

	// a statement's error handled and ignored: commit must fail, nothing stored
	w3 := storetest.Workflow("ignored", time.Now())
	err = s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateWorkflow(ctx, w3); err != nil {
			return err
		}
		dup := *w2
		_ = tx.CreateWorkflow(ctx, &dup) // duplicate id: aborts the transaction
		return nil
	})
	t.Logf("ignored failure: %v", err)
	require.Error(t, err)
	_, err = s.GetWorkflow(ctx, w3.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound)

	// deadline while a statement waits for a row lock
	e := pipelinedExec(t, s, "me")
	lock := lockExecution(t, raw, e.ID)
	w4 := storetest.Workflow("lockwait", time.Now())
	dctx, dcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err = s.InTx(dctx, func(tx store.Tx) error {
		if err := tx.CreateWorkflow(dctx, w4); err != nil {
			return err
		}
		_, err := tx.LockExecution(dctx, e.ID, false)
		return err
	})
	dcancel()
	t.Logf("lock wait: %v", err)
	require.Error(t, err)
	require.NoError(t, lock.Rollback())
	time.Sleep(300 * time.Millisecond)
	_, err = s.GetWorkflow(ctx, w4.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound)

	// ctx ends between the last statement and COMMIT
	w5 := storetest.Workflow("late", time.Now())
	lctx, lcancel := context.WithCancel(ctx)
	err = s.InTx(lctx, func(tx store.Tx) error {
		if err := tx.CreateWorkflow(lctx, w5); err != nil {
			return err
		}
		lcancel()
		return nil
	})
	t.Logf("late cancel: %v", err)
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.GetWorkflow(ctx, w5.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound)

	// the fold and the shrink (SET LOCAL, LOCK TABLE) still work
	_, err = s.FoldExecutionCounts(ctx, 100)
	require.NoError(t, err)
	requireHealthyPool(t, s, raw, app)
}
