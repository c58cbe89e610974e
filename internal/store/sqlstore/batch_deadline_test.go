package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// A batch that runs again with savepoints (a neighbour failed) has one
// deadline for both runs, not one each: a slow caller that fit in the
// first run's time does not get a second full deadline (its neighbours and,
// on SQLite, every other writer would wait twice as long).
func TestBatchRerunKeepsTheDeadline(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	const deadline = time.Second
	sqlstore.SetBatchTimeout(s.DB, deadline)

	// Hold the loop until both callers are queued, so they share a batch.
	gate, entered := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Batch(ctx, func(store.Tx) error { close(entered); <-gate; return nil }) })
	<-entered
	w := storetest.Workflow("slow", storetest.NewClock().Now())
	var slowErr, failErr error
	wg.Go(func() {
		slowErr = s.Batch(ctx, func(tx store.Tx) error {
			time.Sleep(deadline * 6 / 10) // slow work, under the deadline once, not twice
			return tx.CreateWorkflow(ctx, w)
		})
	})
	require.Eventually(t, func() bool { return sqlstore.Queued(s.DB) == 1 }, 5*time.Second, time.Millisecond)
	boom := errors.New("boom")
	wg.Go(func() { failErr = s.Batch(ctx, func(store.Tx) error { return boom }) })
	require.Eventually(t, func() bool { return sqlstore.Queued(s.DB) == 2 }, 5*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()
	requireUnavailable(t, slowErr)
	require.ErrorContains(t, slowErr, "deadline")
	requireUnavailable(t, failErr)
	_, err := s.GetWorkflow(ctx, w.ID)
	require.Error(t, err, "nothing of the expired batch committed")
}
