package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
)

// runBatch tests the group commit's write path: several callers' writes
// in one transaction, with and without a failing neighbour.
func runBatch(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("BatchAuditChain", func(t *testing.T) { t.Parallel(); testBatchAuditChain(t, open(t)) })
	t.Run("BatchManySteps", func(t *testing.T) { t.Parallel(); testBatchManySteps(t, open(t)) })
	t.Run("AuditEventChangedAfterAppend", func(t *testing.T) { t.Parallel(); testAuditChangedAfterAppend(t, open(t)) })
}

// testAuditChangedAfterAppend: an event is stored as it is when its
// transaction commits, hashed over what is stored, even if its caller
// changed it after appending it.
func testAuditChangedAfterAppend(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := auditEvent(1)
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		e.Metadata["late"] = "added after AppendAudit"
		return nil
	}))
	v := verifyAll(t, s)
	require.True(t, v.Valid, v.Reason)
	got, err := s.GetAudit(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, *e, *got)
}

// testBatchAuditChain: concurrent callers each append audit events in a
// group commit, and some fail after appending. The chain a transaction
// extends must not link to an event a failed caller's rollback removed:
// every committed event chains to the one committed before it.
func testBatchAuditChain(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	const callers, rounds = 16, 4
	var mu sync.Mutex
	committed := map[uuid.UUID]bool{}
	rolledBack := map[uuid.UUID]bool{}
	var unexpected []error
	for round := range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				<-start
				a, b := auditEvent(round*100+i), auditEvent(round*100+i+50)
				fail := (i+round)%3 == 0
				err := s.Batch(ctx, func(tx store.Tx) error {
					for _, e := range []*audit.Event{a, b} {
						if err := tx.AppendAudit(ctx, e); err != nil {
							return err
						}
					}
					if fail {
						return boom
					}
					return nil
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case fail && errors.Is(err, boom):
					rolledBack[a.ID], rolledBack[b.ID] = true, true
				case !fail && err == nil:
					committed[a.ID], committed[b.ID] = true, true
				default:
					unexpected = append(unexpected, fmt.Errorf("caller %d (fail %v): %w", i, fail, err))
				}
			})
		}
		close(start)
		wg.Wait()
	}
	require.Empty(t, unexpected)
	v := verifyAll(t, s)
	require.True(t, v.Valid, "chain after group commits with failing callers: %+v", v)
	require.EqualValues(t, len(committed), v.Checked)
	require.NoError(t, s.WalkAudit(ctx, 1, 1<<62, func(e *audit.Event) bool {
		require.True(t, committed[e.ID], "event %d is a committed caller's", e.Seq)
		require.False(t, rolledBack[e.ID])
		return true
	}))
}

// testBatchManySteps: one progress write with more steps than one
// multi-row statement holds stores them all, in order.
func testBatchManySteps(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := queueBase
	e := Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Minute))
	createAll(t, s, e)
	steps := make([]flow.Step, 150)
	for i := range steps {
		steps[i] = flow.Step{ExecutionID: e.ID, Number: i + 1, NodeID: fmt.Sprintf("n%03d", i), Name: "node",
			Status: flow.StepCompleted, Input: map[string]any{"i": float64(i)}, Attempts: 1,
			StartedAt: now.Add(time.Duration(i) * time.Millisecond), CompletedAt: now.Add(time.Duration(i+1) * time.Millisecond)}
	}
	progress := *e
	progress.CurrentStep, progress.TotalSteps = len(steps), len(steps)
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
		_, err := tx.SaveProgress(ctx, "me", &progress, steps[:1])
		if err == nil {
			_, err = tx.SaveProgress(ctx, "me", &progress, steps[1:])
		}
		return err
	}))
	stored, err := s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, steps, stored)
}
