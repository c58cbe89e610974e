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
	"flowker/internal/store/faultstore" //nolint:depguard // counts the group commits a start enters
)

// countingDispatcher is an engine that takes every start and runs none,
// counting its reservations.
type countingDispatcher struct {
	reserved, released, dispatched atomic.Int32
}

func (d *countingDispatcher) Owner() string                                   { return "test-owner" }
func (d *countingDispatcher) LeaseUntil(now time.Time) time.Time              { return now.Add(time.Minute) }
func (d *countingDispatcher) Reserve() bool                                   { d.reserved.Add(1); return true }
func (d *countingDispatcher) Release()                                        { d.released.Add(1) }
func (d *countingDispatcher) Dispatch(context.Context, uuid.UUID)             {}
func (d *countingDispatcher) Cancel(uuid.UUID) bool                           { return false }
func (d *countingDispatcher) Ended(context.Context, *flow.Execution)          {}
func (d *countingDispatcher) DispatchNew(*flow.Execution, *store.CatalogView) { d.dispatched.Add(1) }
func (d *countingDispatcher) Wait(uuid.UUID) (<-chan *store.ExecutionResults, func()) {
	return make(chan *store.ExecutionResults), func() {}
}
func (d *countingDispatcher) Wake(context.Context, func(store.Tx, time.Time) (uuid.UUID, bool, error)) error {
	return nil
}

// TestStartEncodesBeforeTheGroupCommit: a start encodes its execution on
// the request's goroutine (Store.EncodeExecution). An input the store
// cannot hold is refused there: the group commit every write waits for
// is never entered, and the engine's reservation is given back.
func TestStartEncodesBeforeTheGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := faultstore.Wrap(openSQLite(t))
	engine := &countingDispatcher{}
	svc := newTestService(t, st, service.WithDispatcher(engine))
	w, err := svc.CreateWorkflow(ctx, flow.Definition{Name: "encoded", Nodes: []flow.Node{{ID: "hook",
		Type: flow.NodeTrigger, Data: map[string]any{"triggerType": "webhook", "method": "POST", "path": "/encoded"}}}})
	require.NoError(t, err)
	_, err = svc.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	batches := st.Calls("Batch")

	_, err = svc.StartExecution(ctx, service.StartRequest{WorkflowID: w.ID, Input: map[string]any{"name": "a\x00b"}})
	require.ErrorIs(t, err, store.ErrUnstorable)
	require.Equal(t, batches, st.Calls("Batch"), "refused before the group commit")
	require.Equal(t, engine.reserved.Load(), engine.released.Load(), "the reservation is given back")
	n, err := st.CountUnfinished(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing written")

	res, err := svc.StartExecution(ctx, service.StartRequest{WorkflowID: w.ID, Input: map[string]any{"name": "ab"}})
	require.NoError(t, err)
	require.Equal(t, batches+1, st.Calls("Batch"))
	require.Equal(t, int32(1), engine.dispatched.Load())
	got, err := st.GetExecution(ctx, res.Execution.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"name": "ab"}, got.Input)
}
