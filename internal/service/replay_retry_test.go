package service_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
)

// retriedAfterLookup is a store whose execution found by key is retried
// (requeued: running again) right after the lookup returns it, as a
// POST /v1/executions/{id}/retry landing in that window would.
type retriedAfterLookup struct {
	store.Store
	armed atomic.Bool
	retry func(id uuid.UUID)
}

func (s *retriedAfterLookup) FindExecutionByKey(ctx context.Context, wf uuid.UUID, key string) (*flow.Execution, error) {
	ex, err := s.Store.FindExecutionByKey(ctx, wf, key)
	if err == nil && s.armed.CompareAndSwap(true, false) {
		s.retry(ex.ID)
	}
	return ex, err
}

// TestReplayWaitOfAnExecutionRetried: a synchronous replay (?wait=) that
// finds its execution failed, which a retry requeues before the replay
// reads its results, does not answer 200 with the results of a running
// execution (synchronous mode: 200 with the results of a finished one, or
// 202), nor disagree with itself about the status (found by a defect hunt).
func TestReplayWaitOfAnExecutionRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := &retriedAfterLookup{Store: openSQLite(t)}
	s := newTestService(t, st, service.WithDispatcher(acceptAll{}))
	st.retry = func(id uuid.UUID) {
		_, err := s.RetryExecution(ctx, id)
		require.NoError(t, err)
	}
	req, first := startReplayable(ctx, t, s)
	failed := *first.Execution
	now := time.Now().UTC().Truncate(time.Microsecond)
	failed.Status, failed.CompletedAt, failed.UpdatedAt, failed.ErrorMessage = flow.ExecFailed, &now, now, "ledger down"
	require.NoError(t, st.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, acceptAll{}.Owner(), &failed, nil, nil)
	}))

	st.armed.Store(true)
	req.Wait = 300 * time.Millisecond
	res, err := s.StartExecution(ctx, req)
	require.NoError(t, err)
	require.True(t, res.Replayed)
	require.False(t, st.armed.Load(), "the retry ran in the window")
	if res.Results != nil {
		require.True(t, res.Results.Execution.Status.Terminal(),
			"answered 200 with results whose status is %s (the answer's execution says %s)",
			res.Results.Execution.Status, res.Execution.Status)
	}
	require.Nil(t, res.Results, "nothing runs it here: it is still running when the wait ends")
	require.Equal(t, flow.ExecRunning, res.Execution.Status, "the answer says what is stored")
}
