package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/faultstore" //nolint:depguard // a results read that fails
)

// changesBeforeWait is an engine whose execution changes status — its
// write commits, and the run tells its waiters, of which there are none
// yet — in the window between a replay's lookup by key and its Wait. The
// wait registered then is never answered: the run that would have is over,
// as the engine's Wait for an execution it no longer runs.
type changesBeforeWait struct {
	acceptAll
	st store.Store
	to flow.ExecutionStatus
	t  *testing.T
}

func (f changesBeforeWait) Wait(id uuid.UUID) (<-chan *store.ExecutionResults, func()) {
	ctx := context.Background()
	ex, err := f.st.GetExecution(ctx, id)
	require.NoError(f.t, err)
	if ex.Status != f.to {
		now := time.Now().UTC().Truncate(time.Microsecond)
		ex.Status, ex.UpdatedAt = f.to, now
		if f.to.Terminal() {
			ex.CompletedAt, ex.Output = &now, map[string]any{"done": true}
		}
		require.NoError(f.t, f.st.Batch(ctx, func(tx store.Tx) error {
			return tx.SaveProgress(ctx, f.Owner(), ex, nil, nil)
		}))
	}
	return make(chan *store.ExecutionResults), func() {}
}

// TestReplayWaitSeesAChangeJustBefore: a synchronous idempotent replay of
// an execution that was running when the replay looked it up, and finished
// (or stopped at a review) before the replay began to wait, is answered at
// once with what is stored — not as still running, after the whole wait.
func TestReplayWaitSeesAChangeJustBefore(t *testing.T) {
	for _, to := range []flow.ExecutionStatus{flow.ExecCompleted, flow.ExecWaiting} {
		t.Run(string(to), func(t *testing.T) {
			ctx := context.Background()
			st := openSQLite(t)
			s := newTestService(t, st, service.WithDispatcher(changesBeforeWait{st: st, to: to, t: t}))
			req, first := startReplayable(ctx, t, s)
			require.Equal(t, flow.ExecRunning, first.Execution.Status)

			const wait = 5 * time.Second
			began := time.Now()
			req.Wait = wait
			res, err := s.StartExecution(ctx, req)
			require.NoError(t, err)
			require.True(t, res.Replayed)
			require.Less(t, time.Since(began), wait/2, "answered at once, not after the whole wait")
			require.Equal(t, to, res.Execution.Status)
			if to.Terminal() {
				require.NotNil(t, res.Results, "a finished execution's replay answers with its results")
				require.Equal(t, map[string]any{"done": true}, res.Results.Execution.Output)
			} else {
				require.Nil(t, res.Results)
			}
		})
	}
}

// startReplayable activates a workflow of one webhook trigger on s and
// starts it under an Idempotency-Key: the request, to be sent again.
func startReplayable(ctx context.Context, t *testing.T, s *service.Service) (service.StartRequest, *service.StartResult) {
	t.Helper()
	w, err := s.CreateWorkflow(ctx, flow.Definition{Name: "replay", Nodes: []flow.Node{{ID: "hook",
		Type: flow.NodeTrigger, Data: map[string]any{"triggerType": "webhook", "method": "POST", "path": "/replay"}}}})
	require.NoError(t, err)
	_, err = s.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	req := service.StartRequest{WorkflowID: w.ID, IdempotencyKey: "k", Input: map[string]any{"n": 1.0}}
	first, err := s.StartExecution(ctx, req)
	require.NoError(t, err)
	return req, first
}

// TestReplayWaitReadsResultsAgain: a synchronous replay sees the execution
// ended, and the read of its results fails once (the database restarting):
// it reads them again at the next poll and answers with them, not 202 with
// a completed status and no results.
func TestReplayWaitReadsResultsAgain(t *testing.T) {
	ctx := context.Background()
	raw := openSQLite(t)
	st := faultstore.Wrap(raw)
	s := newTestService(t, st, service.WithDispatcher(changesBeforeWait{st: raw, to: flow.ExecCompleted, t: t}))
	req, _ := startReplayable(ctx, t, s)

	st.Fail("ExecutionWithSteps", faultstore.Once, store.Unavailable(errors.New("connection refused")))
	req.Wait = 5 * time.Second
	res, err := s.StartExecution(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 2, st.Calls("ExecutionWithSteps"), "read again after the failure")
	require.Equal(t, flow.ExecCompleted, res.Execution.Status)
	require.NotNil(t, res.Results, "answered with the results")
	require.Equal(t, map[string]any{"done": true}, res.Results.Execution.Output)
}

// dispatches is a dispatcher that notes what it is asked to run.
type dispatches struct {
	acceptAll
	mu       sync.Mutex
	released int
	handed   []uuid.UUID
}

func (d *dispatches) Dispatch(_ context.Context, id uuid.UUID) {
	d.mu.Lock()
	d.handed = append(d.handed, id)
	d.mu.Unlock()
}
func (d *dispatches) Release() { d.mu.Lock(); d.released++; d.mu.Unlock() }

// A start whose insert committed and whose answer was lost is run (the
// execution, stored leased to this process, is handed to the engine to
// read back: it waited for its lease to lapse and a rescuer; found by a
// review) and answered as the start it is: answered 503 "retry later", a
// webhook sender without an Idempotency-Key started it twice (found by a
// defect hunt). Only a stored execution decides: not seen, or not
// readable, it is 503 FLK-0014, the outcome unknown — a COMMIT on its way
// may still land after the read (found by a review).
func TestStartWithALostAnswerIsStillRun(t *testing.T) {
	ctx := context.Background()
	raw := openSQLite(t)
	st := faultstore.Wrap(raw)
	d := &dispatches{}
	s := newTestService(t, st, service.WithDispatcher(d))
	req, _ := startReplayable(ctx, t, s)
	lost := store.OutcomeUnknown(errors.New("connection reset by peer"))

	st.Fail("Batch", faultstore.LostAnswer, lost)
	req.IdempotencyKey = "another"
	res, err := s.StartExecution(ctx, req)
	require.NoError(t, err, "it started: answered as started")
	stored, err := raw.FindExecutionByKey(ctx, req.WorkflowID, "another")
	require.NoError(t, err)
	require.Equal(t, stored.ID, res.Execution.ID)
	d.mu.Lock()
	require.Equal(t, []uuid.UUID{stored.ID}, d.handed, "handed to the engine to read back")
	require.Zero(t, d.released, "its place is the run's")
	d.handed = nil
	d.mu.Unlock()

	st.Fail("Batch", faultstore.Once, lost) // nothing committed, yet
	req.IdempotencyKey = "not-seen"
	_, err = s.StartExecution(ctx, req)
	require.ErrorIs(t, err, &flow.Error{Code: flow.CodeOutcomeUnknown}, "not seen is no proof")

	st.Fail("Batch", faultstore.LostAnswer, lost)
	st.Fail("GetExecution", faultstore.Once, store.Unavailable(errors.New("still down")))
	req.IdempotencyKey = "unknown"
	_, err = s.StartExecution(ctx, req)
	require.ErrorIs(t, err, &flow.Error{Code: flow.CodeOutcomeUnknown})
	_, err = raw.FindExecutionByKey(ctx, req.WorkflowID, "unknown")
	require.NoError(t, err, "it did start")
}
