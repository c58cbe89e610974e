package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/faultstore" //nolint:depguard // a store read that hangs
)

// neverEnds runs nothing: a synchronous caller's wait is never told.
type neverEnds struct{ acceptAll }

func (neverEnds) Wait(uuid.UUID) (<-chan *store.ExecutionResults, func()) {
	return make(chan *store.ExecutionResults), func() {}
}

// A synchronous start asked to be answered within its wait; a status read
// that hung held it as long as the read did, and left a goroutine in the
// store after the caller had gone (found by a defect hunt). Its reads end
// with the wait: it answers at the wait's end with the execution as last
// read (202 over HTTP).
func TestSyncWaitEndsWhileAReadHangs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := faultstore.Wrap(openSQLite(t))
	s := newTestService(t, st, service.WithDispatcher(neverEnds{}))
	w, err := s.CreateWorkflow(ctx, flow.Definition{Name: "sync", Nodes: []flow.Node{{ID: "t", Type: flow.NodeTrigger}}})
	require.NoError(t, err)
	_, err = s.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)

	st.Fail("GetExecution", faultstore.Hang, nil)
	defer st.Clear("GetExecution")
	start := time.Now()
	res, err := s.StartExecution(ctx, service.StartRequest{WorkflowID: w.ID, Input: map[string]any{},
		Wait: 500 * time.Millisecond})
	require.NoError(t, err)
	require.Less(t, time.Since(start), 3*time.Second, "answered at the wait's end")
	require.Nil(t, res.Results)
	require.Equal(t, flow.ExecRunning, res.Execution.Status)
}
