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
	"flowker/internal/store/faultstore" //nolint:depguard // a transaction whose answer is lost
)

// runsAtOnce is an engine whose run of a dispatched execution has written
// its next status (to) before Dispatch returns, as a worker may before the
// request that dispatched it reads anything again.
type runsAtOnce struct {
	acceptAll
	t   *testing.T
	st  store.Store
	to  flow.ExecutionStatus
	mu  sync.Mutex
	ran []uuid.UUID
}

func (r *runsAtOnce) Dispatch(_ context.Context, id uuid.UUID) {
	ctx := context.Background()
	ex, err := r.st.GetExecution(ctx, id)
	if err != nil || ex.Status.Terminal() {
		return // nothing requeued: nothing to run
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	ex.Status, ex.UpdatedAt = r.to, now
	if r.to.Terminal() {
		ex.CompletedAt, ex.ErrorMessage = &now, "ledger answered 400"
	} else {
		ex.LeaseOwner, ex.LeaseExpiresAt = "", nil // parked: nobody holds it
	}
	require.NoError(r.t, r.st.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, r.Owner(), ex, nil, nil)
	}))
	r.mu.Lock()
	r.ran = append(r.ran, id)
	r.mu.Unlock()
}

// A retry whose requeue committed and whose answer was lost is handed to
// the engine; the run may end, or stop to wait, before anything reads it
// again. What was stored before the hand-over decides the answer: the
// retry was stored, so it is answered as retried, not 503 FLK-0014
// "outcome unknown" (found by a review).
func TestRetryWithALostAnswerIsRetriedWhenItsRunMovesOnFirst(t *testing.T) {
	for _, to := range []flow.ExecutionStatus{flow.ExecFailed, flow.ExecWaiting} {
		t.Run(string(to), func(t *testing.T) {
			ctx := context.Background()
			raw := openSQLite(t)
			st := faultstore.Wrap(raw)
			r := &runsAtOnce{t: t, st: raw, to: to}
			s := newTestService(t, st, service.WithDispatcher(r))
			_, first := startReplayable(ctx, t, s)
			failed := *first.Execution
			now := time.Now().UTC().Truncate(time.Microsecond)
			failed.Status, failed.CompletedAt, failed.UpdatedAt, failed.ErrorMessage = flow.ExecFailed, &now, now, "ledger down"
			require.NoError(t, raw.Batch(ctx, func(tx store.Tx) error {
				return tx.SaveProgress(ctx, acceptAll{}.Owner(), &failed, nil, nil)
			}))

			st.Fail("InTx", faultstore.LostAnswer, store.OutcomeUnknown(errors.New("connection reset by peer")))
			retried, err := s.RetryExecution(ctx, failed.ID)
			require.NoError(t, err, "the requeue was stored: answered as retried")
			require.Equal(t, flow.ExecRunning, retried.Status, "answered with the requeue as stored")
			r.mu.Lock()
			require.Equal(t, []uuid.UUID{failed.ID}, r.ran, "handed to the engine, which ran it")
			r.mu.Unlock()

			// Not stored, it is still never answered as retried.
			st.Fail("InTx", faultstore.Once, store.OutcomeUnknown(errors.New("connection reset by peer")))
			_, err = s.RetryExecution(ctx, failed.ID)
			require.ErrorIs(t, err, &flow.Error{Code: flow.CodeOutcomeUnknown})
		})
	}
}
