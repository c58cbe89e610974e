package service_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/faultstore" //nolint:depguard // a configuration write held between its check and its write
	"flowker/internal/store/storetest"  //nolint:depguard // a fresh PostgreSQL schema for the test
)

// TestRetryRacesConfigURLMove: a failed execution whose node calls a
// provider configuration with a secret header of its own is retried while
// that configuration's URL moves, on PostgreSQL. The move has passed its
// check (no execution under way calls it) and is about to write; the retry
// reads the configuration unchanged. Both must not succeed: the retry
// would send the node's secret to the new URL. With the retry taking the
// catalog lock the move holds, it waits for the move and is refused 422
// FLK-0512 (found by a review: both succeeded).
func TestRetryRacesConfigURLMove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw := openPostgres(t, storetest.PostgresURL(t))
	st := faultstore.Wrap(raw)
	s := newTestService(t, st, service.WithDispatcher(acceptAll{}))

	pc, err := s.CreateProviderConfig(ctx, flow.ProviderConfig{Name: "ledger", ProviderID: "http",
		Config: map[string]any{"base_url": "https://ledger.example.com"}})
	require.NoError(t, err)
	w, err := s.CreateWorkflow(ctx, flow.Definition{Name: "pay", Nodes: []flow.Node{
		{ID: "start", Type: flow.NodeTrigger},
		{ID: "pay", Type: flow.NodeExecutor, Data: map[string]any{"executorId": "http.request",
			"providerConfigId": pc.ID.String(), "method": "POST", "path": "/pay",
			"headers": map[string]any{"X-Partner-Sig": "node-partner-value-SECRET-7731"}}},
	}, Edges: []flow.Edge{{ID: "e1", Source: "start", Target: "pay"}}})
	require.NoError(t, err)
	_, err = s.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	started, err := s.StartExecution(ctx, service.StartRequest{WorkflowID: w.ID, Input: map[string]any{"n": 1.0}})
	require.NoError(t, err)
	failed := *started.Execution
	now := time.Now().UTC().Truncate(time.Microsecond)
	failed.Status, failed.CompletedAt, failed.UpdatedAt, failed.ErrorMessage = flow.ExecFailed, &now, now, "ledger answered 400"
	require.NoError(t, raw.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, acceptAll{}.Owner(), &failed, nil, nil)
	}))
	// Failed executions do not hold the URL, nor does a deleted workflow.
	_, err = s.DeactivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.NoError(t, s.DeleteWorkflow(ctx, w.ID))

	st.Fail("UpdateProviderConfig", faultstore.Hang, nil)
	var moveErr, retryErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		_, moveErr = s.UpdateProviderConfig(ctx, pc.ID, service.ProviderConfigPatch{
			Config: map[string]any{"base_url": "https://elsewhere.example.com"}})
	})
	<-st.Called("UpdateProviderConfig") // checked, lock held, about to write

	locking := make(chan struct{})
	var once sync.Once
	st.Watch("LockCatalog", func(context.Context) { once.Do(func() { close(locking) }) })
	retried := make(chan struct{})
	wg.Go(func() { defer close(retried); _, retryErr = s.RetryExecution(ctx, failed.ID) })
	select {
	case <-retried: // it did not wait for the move
	case <-locking:
		time.Sleep(200 * time.Millisecond) // its lock request reaches the database
	case <-time.After(10 * time.Second):
		t.Fatal("the retry neither ended nor asked for the catalog lock")
	}
	st.Clear("UpdateProviderConfig")
	wg.Wait()

	require.NoError(t, moveErr, "the move was first")
	require.ErrorIs(t, retryErr, &flow.Error{Code: flow.CodeNotRetryable},
		"the retry, after the move, would send the node's secret to the new URL")
	got, err := s.GetExecution(ctx, failed.ID)
	require.NoError(t, err)
	require.Equal(t, flow.ExecFailed, got.Status)
}
