package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/faultstore" //nolint:depguard // a transaction whose answer is lost
)

// A retry (requeue) whose commit landed and whose answer was lost has
// leased the execution to this process, status running: like a start or a
// wake in that case, it is handed to the engine, which runs it from what is
// stored, and not left leased here, run by nobody, until its lease lapses;
// and it is answered as the retry it is.
func TestRetryWithALostAnswerIsStillRun(t *testing.T) {
	ctx := context.Background()
	raw := openSQLite(t)
	st := faultstore.Wrap(raw)
	d := &dispatches{}
	s := newTestService(t, st, service.WithDispatcher(d))
	_, first := startReplayable(ctx, t, s)
	failed := *first.Execution
	now := time.Now().UTC().Truncate(time.Microsecond)
	failed.Status, failed.CompletedAt, failed.UpdatedAt, failed.ErrorMessage = flow.ExecFailed, &now, now, "ledger down"
	require.NoError(t, raw.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, acceptAll{}.Owner(), &failed, nil, nil)
	}))
	d.mu.Lock()
	d.handed, d.released = nil, 0
	d.mu.Unlock()

	lost := store.OutcomeUnknown(errors.New("connection reset by peer"))
	st.Fail("InTx", faultstore.LostAnswer, lost)
	retried, err := s.RetryExecution(ctx, failed.ID)
	require.NoError(t, err, "it was retried: answered as retried, not 503 retry later (found by a review)")
	require.Equal(t, flow.ExecRunning, retried.Status)
	stored, err := raw.GetExecution(ctx, failed.ID)
	require.NoError(t, err)
	require.Equal(t, flow.ExecRunning, stored.Status, "the requeue committed")
	require.Equal(t, acceptAll{}.Owner(), stored.LeaseOwner, "leased to this process")
	d.mu.Lock()
	require.Equal(t, []uuid.UUID{failed.ID}, d.handed,
		"a requeue whose answer was lost is not handed to the engine: leased here, run by nobody until its lease lapses (released %d)", d.released)
	d.mu.Unlock()

	// Not seen applied proves nothing (the requeue may still land): the
	// outcome is unknown, 503 FLK-0014 with no Retry-After.
	require.NoError(t, raw.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, acceptAll{}.Owner(), &failed, nil, nil)
	}))
	st.Fail("InTx", faultstore.Once, lost)
	_, err = s.RetryExecution(ctx, failed.ID)
	require.ErrorIs(t, err, &flow.Error{Code: flow.CodeOutcomeUnknown})
}
