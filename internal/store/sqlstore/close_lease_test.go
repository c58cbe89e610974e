package sqlstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestCloseNamesNoCallersLeaseLost: a pipelined batch aborted by
// Close after one caller's fenced write came back lease-lost: every caller
// is told ErrUnavailable, and none but the one whose lease was lost may
// match store.ErrLeaseLost (TestBatchDeadlineNamesNoCallersError, for Close).
func TestCloseNamesNoCallersLeaseLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := pipelinedStore(t)
	const grace = 300 * time.Millisecond
	sqlstore.SetCloseGrace(s, grace)
	lost := pipelinedExec(t, s, "thief")
	other := pipelinedExec(t, s, "me")
	release := holdLoop(t, s)
	closing := make(chan struct{})
	errs := make([]error, 3)
	var wg sync.WaitGroup
	wg.Go(func() { // its fenced update is queued, the server refuses it at the next flush
		errs[0] = s.Batch(ctx, func(tx store.Tx) error {
			return tx.SaveProgress(ctx, "me", lost, []flow.Step{pipelinedStep(lost, 1)}, nil)
		})
	})
	require.Eventually(t, func() bool { return sqlstore.Queued(s) == 1 }, 5*time.Second, time.Millisecond)
	wg.Go(func() { // flushes once the store is closing, then outlives the grace
		errs[1] = s.Batch(ctx, func(tx store.Tx) error {
			<-closing
			_, lerr := tx.LockExecution(ctx, other.ID, false)
			t.Logf("B flush: %v at %v", lerr, time.Now().Format("05.000"))
			time.Sleep(grace + 100*time.Millisecond)
			return nil
		})
	})
	require.Eventually(t, func() bool { return sqlstore.Queued(s) == 2 }, 5*time.Second, time.Millisecond)
	wg.Go(func() {
		errs[2] = s.Batch(ctx, func(tx store.Tx) error {
			return tx.CreateWorkflow(ctx, storetest.Workflow("neighbour", time.Now()))
		})
	})
	require.Eventually(t, func() bool { return sqlstore.Queued(s) == 3 }, 5*time.Second, time.Millisecond)
	release()
	closed := make(chan struct{})
	go func() { defer close(closed); _ = s.Close() }()
	time.Sleep(50 * time.Millisecond) // Close has closed the store; the batch runs on
	close(closing)
	wg.Wait()
	<-closed
	for i, err := range errs {
		t.Logf("caller %d: %v", i, err)
		require.ErrorIs(t, err, store.ErrUnavailable)
	}
	for _, err := range errs[1:] {
		require.NotErrorIs(t, err, store.ErrLeaseLost, "another caller's lost lease matches for this one")
	}
}

// TestClosingGraceNamesNoCallersLeaseLost: the same while Close lets the
// batch finish (its context still alive): once the store is closed,
// classify tells a failure, it does not wrap it.
func TestClosingGraceNamesNoCallersLeaseLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := pipelinedStore(t)
	sqlstore.SetCloseGrace(s, 2*time.Second)
	lost := pipelinedExec(t, s, "thief")
	release := holdLoop(t, s)
	closing := make(chan struct{})
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		errs[0] = s.Batch(ctx, func(tx store.Tx) error {
			return tx.SaveProgress(ctx, "me", lost, []flow.Step{pipelinedStep(lost, 1)}, nil)
		})
	})
	require.Eventually(t, func() bool { return sqlstore.Queued(s) == 1 }, 5*time.Second, time.Millisecond)
	wg.Go(func() {
		errs[1] = s.Batch(ctx, func(tx store.Tx) error {
			<-closing
			return tx.CreateWorkflow(ctx, storetest.Workflow("neighbour", time.Now()))
		})
	})
	require.Eventually(t, func() bool { return sqlstore.Queued(s) == 2 }, 5*time.Second, time.Millisecond)
	release()
	closed := make(chan struct{})
	go func() { defer close(closed); _ = s.Close() }()
	time.Sleep(50 * time.Millisecond)
	close(closing)
	wg.Wait()
	<-closed
	for i, err := range errs {
		t.Logf("caller %d: %v", i, err)
	}
	require.NotErrorIs(t, errs[1], store.ErrLeaseLost, "another caller's lost lease matches for this one")
}
