package engine

// Which of a node's waits is its current one, when a retry after a cancel
// waited afresh on a process whose clock is behind the one that opened
// the cancelled wait (found by a defect hunt): the waits come ordered by
// created_at, and the cancelled one, stamped later by the faster clock,
// must not replace the retry's.

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// listedWaits is a store.Tx that lists the given waits and no signal.
type listedWaits struct {
	store.Tx
	ws []flow.Wait
}

func (l listedWaits) ListWaits(context.Context, uuid.UUID) ([]flow.Wait, error) {
	return append([]flow.Wait(nil), l.ws...), nil
}

func (l listedWaits) ListSignals(context.Context, uuid.UUID) ([]flow.Signal, error) { return nil, nil }

func TestNodeWaitChosenByStatusNotByClock(t *testing.T) {
	base := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	wait := func(status flow.WaitStatus, handle string, createdAfter time.Duration) flow.Wait {
		return flow.Wait{ID: uuid.New(), NodeID: "r", Kind: flow.NodeReview, Status: status, Handle: handle,
			CreatedAt: base.Add(createdAfter)}
	}
	for name, tc := range map[string]struct {
		listed []flow.Wait // oldest first, as the store lists them
		want   int         // the index of the current one
	}{
		"retry resolved, cancelled stamped later": {[]flow.Wait{wait(flow.WaitResolved, "approve", -5*time.Second),
			wait(flow.WaitCancelled, "", 0)}, 0},
		"retry open, cancelled stamped later": {[]flow.Wait{wait(flow.WaitOpen, "", -5*time.Second),
			wait(flow.WaitCancelled, "", 0)}, 0},
		"retry expired, cancelled stamped later": {[]flow.Wait{wait(flow.WaitExpired, "reject", -5*time.Second),
			wait(flow.WaitCancelled, "", 0)}, 0},
		"in clock order": {[]flow.Wait{wait(flow.WaitCancelled, "", 0),
			wait(flow.WaitResolved, "approve", time.Second)}, 1},
		"two cancels, then the open one": {[]flow.Wait{wait(flow.WaitCancelled, "", 0), wait(flow.WaitOpen, "", time.Second),
			wait(flow.WaitCancelled, "", 2*time.Second)}, 1},
		"only cancelled: the latest": {[]flow.Wait{wait(flow.WaitCancelled, "", 0), wait(flow.WaitCancelled, "", time.Second)}, 1},
	} {
		r := &run{ex: &flow.Execution{ID: uuid.New()}}
		require.NoError(t, r.loadWaits(context.Background(), listedWaits{ws: tc.listed}), name)
		require.Equal(t, tc.listed[tc.want].ID, r.w.latest["r"].ID, name)
	}
}

// The scenario end to end: a review cancelled, the execution retried on a
// process 5 s behind, the retry's review rejected. The execution goes on
// through "reject" at once: no third review is opened for it.
func TestRetryOnASlowerClockGoesOnWithItsReview(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), waitNode("r", flow.NodeReview, nil),
		output("yes", map[string]any{"result": "approved"}), output("no", map[string]any{"result": "rejected"})},
		link("t", "r"), link("r", "yes", "approve"), link("r", "no", "reject"))
	id := env.start(wf, nil)
	env.awaitStatus(id, flow.ExecWaiting)

	ctx := context.Background()
	env.clock.Advance(time.Second)
	require.NoError(t, env.raw.Batch(ctx, func(tx store.Tx) error { // the service's cancel of a waiting execution
		if _, _, err := tx.RequestCancel(ctx, id, env.eng.now()); err != nil {
			return err
		}
		_, err := tx.CancelWaits(ctx, id, env.eng.now())
		return err
	}))
	env.awaitStatus(id, flow.ExecCancelled)

	env.clock.Advance(-5 * time.Second) // the retry is served by a process whose clock is behind
	require.True(t, env.eng.Reserve())
	require.NoError(t, env.raw.Batch(ctx, func(tx store.Tx) error {
		now := env.eng.now()
		_, err := tx.Requeue(ctx, id, env.eng.Owner(), now, env.eng.LeaseUntil(now))
		return err
	}))
	env.eng.Dispatch(ctx, id)
	require.Eventually(t, func() bool { return len(env.openWaits(id)) == 1 }, waitLimit, 2*time.Millisecond)
	env.awaitStatus(id, flow.ExecWaiting)

	env.decide(id, "alice", "reject")
	ex := env.awaitStatus(id, flow.ExecCompleted)
	require.Equal(t, map[string]any{"result": "rejected"}, ex.Output)
	ws, err := env.raw.ListWaits(ctx, id)
	require.NoError(t, err)
	require.Len(t, ws, 2, "the cancelled review and the retry's: no third")
	var states []flow.WaitStatus
	for _, w := range ws {
		states = append(states, w.Status)
	}
	require.ElementsMatch(t, []flow.WaitStatus{flow.WaitResolved, flow.WaitCancelled}, states)
}
