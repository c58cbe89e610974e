package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// RunReadBackOfRowsNotTakenIn: a read back of rows the store cannot take
// in (written by someone else's SQL: plant gives execution id such a
// step, one way per variant) leaves the caller to read. The write it
// travelled with still commits and is reported committed, in a batch of
// its own or run again with savepoints because another caller of its
// batch failed; a read of its own still reports the row.
func RunReadBackOfRowsNotTakenIn(t *testing.T, s store.Store, variants int, plant func(t *testing.T, variant int, id uuid.UUID)) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	refused := errors.New("this caller's own failure")
	const readers = 16
	for v := range variants {
		es := make([]*flow.Execution, readers)
		for i := range es {
			es[i] = Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
			require.NoError(t, s.CreateExecution(ctx, es[i]))
			plant(t, v, es[i].ID)
		}
		var wg sync.WaitGroup
		errs, got := make([]error, readers), make([]store.ExecutionResults, readers)
		for i, e := range es {
			got[i].Execution = e // emptied by the read back
			wg.Go(func() {
				finished := *e
				finished.Status, finished.CompletedAt = flow.ExecCompleted, &now
				errs[i] = s.Batch(ctx, func(tx store.Tx) error {
					if err := tx.SaveProgress(ctx, "me", &finished, nil, nil); err != nil {
						return err
					}
					return tx.ReadBackExecution(ctx, e.ID, &got[i])
				})
			})
			wg.Go(func() { // fails, so that batches run again with savepoints
				require.ErrorIs(t, s.Batch(ctx, func(store.Tx) error { return refused }), refused)
			})
		}
		wg.Wait()
		for i, e := range es {
			require.NoError(t, errs[i], "variant %d", v)
			require.Nil(t, got[i].Execution, "variant %d", v)
			stored, err := s.GetExecution(ctx, e.ID)
			require.NoError(t, err)
			require.Equal(t, flow.ExecCompleted, stored.Status, "variant %d", v)
		}
		_, _, err := s.ExecutionWithSteps(ctx, es[0].ID)
		require.Error(t, err, "a read of its own still reports it (variant %d)", v)
	}
}

// testReadBackOverBudget: a read back decodes its steps on the one writer
// every other write waits for, so steps of more stored JSON than a quarter
// of a megabyte are left to the caller to read; the write commits, and a
// read of its own finds them.
func testReadBackOverBudget(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, size := range []int{200 << 10, 300 << 10} {
		e := Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
		require.NoError(t, s.CreateExecution(ctx, e))
		done := *e
		done.Status, done.CompletedAt, done.CurrentStep, done.TotalSteps = flow.ExecCompleted, &now, 1, 1
		st := flow.Step{ExecutionID: e.ID, Number: 1, NodeID: "n", Name: "N", Status: flow.StepCompleted,
			Output: map[string]any{"body": strings.Repeat("x", size)}, Attempts: 1, StartedAt: now, CompletedAt: now}
		got := store.ExecutionResults{Execution: e} // emptied by the read back
		require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
			if err := tx.SaveProgress(ctx, "me", &done, []flow.Step{st}, nil); err != nil {
				return err
			}
			return tx.ReadBackExecution(ctx, e.ID, &got)
		}))
		stored, steps, err := s.ExecutionWithSteps(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, flow.ExecCompleted, stored.Status)
		require.Len(t, steps, 1)
		if size > 256<<10 {
			require.Nil(t, got.Execution, "%d bytes: left to the caller", size)
			continue
		}
		require.Equal(t, store.ExecutionResults{Execution: stored, Steps: steps}, got, "%d bytes: read back", size)
	}
}
