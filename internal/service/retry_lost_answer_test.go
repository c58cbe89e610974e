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
	"flowker/internal/store/faultstore" //nolint:depguard // a batch whose answer is lost
)

// A retry (requeue) whose commit landed and whose answer was lost has
// leased the execution to this process, status running: like a start or a
// wake in that case, it is handed to the engine, which runs it from what is
// stored, and not left leased here, run by nobody, until its lease lapses.
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

	st.Fail("Batch", faultstore.LostAnswer, store.OutcomeUnknown(errors.New("connection reset by peer")))
	_, err := s.RetryExecution(ctx, failed.ID)
	require.ErrorIs(t, err, store.ErrOutcomeUnknown)
	stored, err := raw.GetExecution(ctx, failed.ID)
	require.NoError(t, err)
	require.Equal(t, flow.ExecRunning, stored.Status, "the requeue committed")
	require.Equal(t, acceptAll{}.Owner(), stored.LeaseOwner, "leased to this process")
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Equal(t, []uuid.UUID{failed.ID}, d.handed,
		"a requeue whose answer was lost is not handed to the engine: leased here, run by nobody until its lease lapses (released %d)", d.released)
}
