package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
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
	t.Run("BatchStepsOfManyCallers", func(t *testing.T) { t.Parallel(); testBatchStepsOfManyCallers(t, open(t)) })
	t.Run("AuditEventChangedAfterAppend", func(t *testing.T) { t.Parallel(); testAuditChangedAfterAppend(t, open(t)) })
	t.Run("BatchOutcomesPerCaller", func(t *testing.T) { t.Parallel(); testBatchOutcomesPerCaller(t, open(t)) })
}

// testBatchOutcomesPerCaller: callers sharing group commits each get
// their own outcome — a progress write with its cancel flag, a lease
// lost, an idempotency key already used, a fresh start — and only the
// successful ones' rows and audit events are stored. On PostgreSQL the
// failing writes are known only when the batch's pipeline is read, after
// their callers' functions returned.
func testBatchOutcomesPerCaller(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := queueBase
	wf := uuid.New()
	const rounds, savers = 8, 12
	for round := range rounds {
		running := make([]*flow.Execution, savers)
		for i := range running {
			running[i] = Execution(wf, flow.ExecRunning, now, "me", now.Add(time.Hour))
		}
		createAll(t, s, running...)
		used := Execution(wf, flow.ExecPending, now, "", now)
		used.IdempotencyKey = fmt.Sprintf("key-%d", round)
		createAll(t, s, used)
		for i := 0; i < savers; i += 3 { // every third has a cancel requested
			_, _, err := s.RequestCancel(ctx, running[i].ID, now)
			require.NoError(t, err)
		}

		type outcome struct {
			err     error
			cancel  bool
			eventID uuid.UUID
		}
		outcomes := make([]outcome, savers+3)
		start := make(chan struct{})
		var wg sync.WaitGroup
		call := func(i int, write func(tx store.Tx, cancel *bool) error) {
			wg.Go(func() {
				<-start
				ev := auditEvent(round*100 + i)
				var cancel bool
				err := s.Batch(ctx, func(tx store.Tx) error {
					if err := write(tx, &cancel); err != nil {
						return err
					}
					return tx.AppendAudit(ctx, ev)
				})
				outcomes[i] = outcome{err: err, cancel: cancel, eventID: ev.ID}
			})
		}
		for i, e := range running {
			owner := "me"
			if i == 1 {
				owner = "thief" // its lease is lost
			}
			progress := *e
			progress.CurrentStep = 1
			st := flow.Step{ExecutionID: e.ID, Number: 1, NodeID: "kyc", Name: "KYC", Status: flow.StepCompleted,
				Attempts: 1, StartedAt: now, CompletedAt: now}
			call(i, func(tx store.Tx, cancel *bool) error {
				return tx.SaveProgress(ctx, owner, &progress, []flow.Step{st}, cancel)
			})
		}
		dup := Execution(wf, flow.ExecPending, now, "", now)
		dup.IdempotencyKey = used.IdempotencyKey
		fresh := Execution(wf, flow.ExecPending, now, "", now)
		// Encoded beforehand, as a start does, and the input changed since:
		// every run of the batch (the rerun that finds the reused key
		// included) inserts the values as they were encoded.
		encodedFresh, err := s.EncodeExecution(fresh)
		require.NoError(t, err)
		fresh.Input["amount"] = "changed after encoding"
		call(savers, func(tx store.Tx, _ *bool) error { return tx.CreateExecution(ctx, dup) })
		call(savers+1, func(tx store.Tx, _ *bool) error { return tx.CreateEncodedExecution(ctx, encodedFresh) })
		call(savers+2, func(store.Tx, *bool) error { return nil })
		close(start)
		wg.Wait()

		for i, o := range outcomes {
			var want error
			switch i {
			case 1:
				want = store.ErrLeaseLost
			case savers:
				want = store.ErrDuplicateIdempotencyKey
			}
			if want != nil {
				require.ErrorIs(t, o.err, want, "caller %d", i)
			} else {
				require.NoError(t, o.err, "caller %d", i)
			}
			_, err := s.GetAudit(ctx, o.eventID)
			require.Equal(t, want != nil, errors.Is(err, store.ErrAuditNotFound), "caller %d's event: %v", i, err)
			if i < savers && i != 1 {
				require.Equal(t, i%3 == 0, o.cancel, "caller %d's cancel flag", i)
				steps, err := s.ListSteps(ctx, running[i].ID)
				require.NoError(t, err)
				require.Len(t, steps, 1)
			}
		}
		steps, err := s.ListSteps(ctx, running[1].ID)
		require.NoError(t, err)
		require.Empty(t, steps, "the lost lease's steps")
		_, err = s.GetExecution(ctx, dup.ID)
		require.Equal(t, flow.KindNotFound, flow.KindOf(err))
		got, err := s.GetExecution(ctx, fresh.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"amount": float64(10)}, got.Input)
	}
	v := verifyAll(t, s)
	require.True(t, v.Valid, v.Reason)
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
	bare := auditEvent(2)
	bare.Metadata = nil // stored as {}: hashed as {}
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, bare) }))
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
		err := tx.SaveProgress(ctx, "me", &progress, steps[:1], nil)
		if err == nil {
			err = tx.SaveProgress(ctx, "me", &progress, steps[1:], nil)
		}
		return err
	}))
	stored, err := s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, steps, stored)
}

// testBatchStepsOfManyCallers: callers sharing group commits, each with
// its own steps (on PostgreSQL sent together as few multi-row statements,
// more rows than one holds), each store exactly their own, in order.
func testBatchStepsOfManyCallers(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := queueBase
	const callers, perCaller = 48, 9
	es := make([]*flow.Execution, callers)
	for i := range es {
		es[i] = Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
	}
	createAll(t, s, es...)
	want := make([][]flow.Step, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, e := range es {
		for n := range perCaller {
			want[i] = append(want[i], flow.Step{ExecutionID: e.ID, Number: n + 1, NodeID: fmt.Sprintf("n%d", n),
				Name: "node", Status: flow.StepCompleted, Input: map[string]any{"caller": float64(i), "n": float64(n)},
				Output: map[string]any{"ok": i%2 == 0}, Attempts: 1, StartedAt: now, CompletedAt: now})
		}
		progress := *e
		progress.CurrentStep = perCaller
		wg.Go(func() {
			<-start
			assert.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
				return tx.SaveProgress(ctx, "me", &progress, want[i], nil)
			}))
		})
	}
	close(start)
	wg.Wait()
	for i, e := range es {
		stored, err := s.ListSteps(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, want[i], stored, "caller %d", i)
	}
}
