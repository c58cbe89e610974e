package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/faultstore" //nolint:depguard // a store call that hangs
	"flowker/internal/store/storetest"  //nolint:depguard // a fresh PostgreSQL schema for the test
)

// A catalog write waits for the catalog lock, and another session may
// hold it (another replica's hung transaction, an operator's open one).
// The wait had no end: each such write held a pooled connection until the
// pool was gone and execution starts waited too, and a write its client
// had given up on was applied later (found by a defect hunt). It now ends
// at the write deadline, 503 FLK-0012, nothing written; once the lock is
// free the same write goes through.
func TestCatalogWriteWaitsForTheLockAtMostItsDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	holder := openPostgres(t, url)
	s := newTestService(t, openPostgres(t, url), service.WithWriteDeadline(300*time.Millisecond))
	w, err := s.CreateWorkflow(ctx, flow.Definition{Name: "locked", Nodes: []flow.Node{{ID: "t", Type: flow.NodeTrigger}}})
	require.NoError(t, err)

	locked, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		held <- holder.InTx(ctx, func(tx store.Tx) error {
			if err := tx.LockCatalog(ctx); err != nil {
				return err
			}
			close(locked)
			<-release
			return errors.New("rolled back")
		})
	}()
	<-locked
	start := time.Now()
	_, err = s.ActivateWorkflow(ctx, w.ID)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.Less(t, time.Since(start), 5*time.Second)
	close(release)
	require.Error(t, <-held)
	got, err := s.GetWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, flow.StatusDraft, got.Status, "nothing written")
	// The lock free, the same write goes through; on a loaded machine a
	// try may itself outlast the short deadline, and is rolled back.
	for range 20 {
		if _, err = s.ActivateWorkflow(ctx, w.ID); !errors.Is(err, store.ErrUnavailable) {
			break
		}
	}
	require.NoError(t, err, "the lock free, the same write goes through")
}

// The same on any store: a catalog write whose store call hangs answers
// at its deadline.
func TestCatalogWriteOnAHungStoreEndsAtItsDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := faultstore.Wrap(openSQLite(t))
	s := newTestService(t, st, service.WithWriteDeadline(300*time.Millisecond))
	w, err := s.CreateWorkflow(ctx, flow.Definition{Name: "hung", Nodes: []flow.Node{{ID: "t", Type: flow.NodeTrigger}}})
	require.NoError(t, err)
	st.Fail("LockCatalog", faultstore.Hang, nil)
	defer st.Clear("LockCatalog")
	start := time.Now()
	_, err = s.ActivateWorkflow(ctx, w.ID)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.Less(t, time.Since(start), 5*time.Second)
}
