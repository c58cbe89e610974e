package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// testLeasesOfHeldRows: the heartbeat (ExtendLeases outside a transaction)
// extends the lease of a row another transaction holds once that
// transaction ends, waiting for it until ctx's deadline and no longer. On
// PostgreSQL it once skipped such a row (FOR UPDATE SKIP LOCKED, "that
// write extends their lease itself"), but the holder may be another
// replica's cancel, an operator's statement or a write that rolls back:
// the lease lapsed under a process still working on it, and another
// process's rescue called the provider again. On SQLite the holder holds
// the one writer, which the heartbeat waits for like any write.
func testLeasesOfHeldRows(t *testing.T, s store.Store) {
	ctx := context.Background()
	now, wf := queueBase, uuid.New()
	until, later := now.Add(time.Minute), now.Add(5*time.Minute)
	held := Execution(wf, flow.ExecRunning, now, "me", until)
	free := Execution(wf, flow.ExecRunning, now, "me", until)
	createAll(t, s, held, free)
	ids := []uuid.UUID{held.ID, free.ID}

	// hold takes held's row in a transaction (PostgreSQL: FOR UPDATE; SQLite:
	// the writer) and keeps it until the returned function is called.
	hold := func() (end func()) {
		locked, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- s.InTx(ctx, func(tx store.Tx) error {
				_, err := tx.LockExecution(ctx, held.ID, false)
				close(locked)
				<-release
				return err
			})
		}()
		select {
		case <-locked:
		case err := <-done:
			require.NoError(t, err)
		}
		return func() { close(release); require.NoError(t, <-done) }
	}

	// Released while the heartbeat waits for it: extended.
	end := hold()
	go func() { time.Sleep(300 * time.Millisecond); end() }()
	bounded, cancel := context.WithTimeout(ctx, 20*time.Second)
	n, err := s.ExtendLeases(bounded, "me", ids, later)
	cancel()
	require.NoError(t, err)
	require.Equal(t, 2, n, "a row another transaction held was not extended once it ended")
	require.Equal(t, later, *getExecution(t, s, held.ID).LeaseExpiresAt)
	require.Equal(t, later, *getExecution(t, s, free.ID).LeaseExpiresAt)

	// Held past ctx's deadline: the heartbeat returns at the deadline, the
	// row as it was (PostgreSQL: the free row extended at once).
	end = hold()
	latest := later.Add(time.Minute)
	const limit = 500 * time.Millisecond
	bounded, cancel = context.WithTimeout(ctx, limit)
	began := time.Now()
	n, err = s.ExtendLeases(bounded, "me", ids, latest)
	took := time.Since(began)
	cancel()
	require.Less(t, took, limit+2*time.Second, "the heartbeat waited past its deadline")
	if s.Driver() == "postgresql" {
		require.NoError(t, err, "a row still held at the deadline is not an error: the next beat waits again")
		require.Equal(t, 1, n)
		require.Equal(t, latest, *getExecution(t, s, free.ID).LeaseExpiresAt)
	} else {
		require.ErrorIs(t, err, context.DeadlineExceeded, "the writer stayed busy")
	}

	// Without a deadline nothing is waited for (PostgreSQL; SQLite's
	// statement waits for the writer, as every write does).
	if s.Driver() == "postgresql" {
		n, err = s.ExtendLeases(ctx, "me", ids, latest.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	end()
	require.Equal(t, later, *getExecution(t, s, held.ID).LeaseExpiresAt, "held throughout: not extended")

	// In a transaction a held row is skipped: waiting there would hold the
	// transaction's other rows meanwhile.
	if s.Driver() == "postgresql" {
		end = hold()
		require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
			bounded, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			began := time.Now()
			n, err := tx.ExtendLeases(bounded, "me", ids, latest)
			require.Less(t, time.Since(began), 10*time.Second)
			require.Equal(t, 1, n)
			return err
		}))
		end()
	}
}
