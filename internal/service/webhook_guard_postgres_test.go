package service_test

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/storetest" //nolint:depguard // a fresh PostgreSQL schema for the test
)

// acceptAll is an engine that takes every execution and runs none.
type acceptAll struct{}

func (acceptAll) Owner() string                                           { return "replica-a" }
func (acceptAll) LeaseUntil(now time.Time) time.Time                      { return now.Add(time.Minute) }
func (acceptAll) Reserve() bool                                           { return true }
func (acceptAll) Release()                                                {}
func (acceptAll) Dispatch(context.Context, uuid.UUID)                     {}
func (acceptAll) DispatchNew(*flow.Execution, *store.CatalogView)         {}
func (acceptAll) Cancel(uuid.UUID) bool                                   { return false }
func (acceptAll) Ended(context.Context, *flow.Execution)                  {}
func (acceptAll) Wait(uuid.UUID) (<-chan *store.ExecutionResults, func()) { return nil, func() {} }
func (acceptAll) Wake(context.Context, func(store.Tx, time.Time) (uuid.UUID, bool, error)) error {
	return nil
}

// TestWebhookStartsSeeAnotherReplicasCatalog: a webhook call's lookups
// are answered from what this replica last saw of the catalog (a guarded
// view), yet its answer is the catalog's as of the call: a workflow
// another replica just activated starts (this replica remembered it
// inactive), and one it just deactivated does not (this replica
// remembered its route).
func TestWebhookStartsSeeAnotherReplicasCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	a, b := newTestService(t, openPostgres(t, url), service.WithDispatcher(acceptAll{})), newTestService(t, openPostgres(t, url))
	w, err := b.CreateWorkflow(ctx, flow.Definition{Name: "replicated", Nodes: []flow.Node{{ID: "hook",
		Type: flow.NodeTrigger, Data: map[string]any{"triggerType": "webhook", "method": "POST", "path": "/replicated"}}}})
	require.NoError(t, err)
	started := func() int {
		t.Helper()
		p, err := a.ListExecutions(ctx, flow.ExecutionFilter{WorkflowID: w.ID, Page: flow.PageRequest{Limit: 100, SortBy: "startedAt"}})
		require.NoError(t, err)
		return len(p.Items)
	}
	call := func() error {
		_, err := a.StartWebhook(ctx, service.WebhookRequest{Method: "POST", Path: "/replicated",
			Body: bodyOf(map[string]any{"n": uuid.NewString()})})
		return err
	}

	_, err = a.StartExecution(ctx, service.StartRequest{WorkflowID: w.ID})
	require.ErrorIs(t, err, flow.ErrWorkflowNotActive) // a keeps the draft's revision
	_, err = b.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.NoError(t, call(), "activated on the other replica: started, though remembered inactive")
	require.NoError(t, call())
	require.Equal(t, 2, started())

	_, err = b.DeactivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.ErrorIs(t, call(), flow.ErrWebhookNotFound, "deactivated on the other replica: its route is gone")
	require.Equal(t, 2, started(), "nothing started from the remembered route")
}

// refuseAll is an engine whose queue is always full.
type refuseAll struct{ acceptAll }

func (refuseAll) Reserve() bool { return false }

// routeCounter counts route lookups.
type routeCounter struct {
	store.Store
	lookups atomic.Int64
}

func (s *routeCounter) FindWebhookRoute(ctx context.Context, method, path string) (*flow.WebhookRoute, error) {
	s.lookups.Add(1)
	return s.Store.FindWebhookRoute(ctx, method, path)
}

// TestWebhookRefusedForCapacityOnce: a call refused for want of capacity
// (503, the queue full) under a guarded view is not served again: no
// catalog decides that, and an overloaded server would do its lookups
// twice. A call that failed otherwise (404) is.
func TestWebhookRefusedForCapacityOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	counted := &routeCounter{Store: openPostgres(t, storetest.PostgresURL(t))}
	svc := newTestService(t, counted, service.WithDispatcher(refuseAll{}))
	w, err := svc.CreateWorkflow(ctx, flow.Definition{Name: "full", Nodes: []flow.Node{{ID: "hook",
		Type: flow.NodeTrigger, Data: map[string]any{"triggerType": "webhook", "method": "POST", "path": "/full"}}}})
	require.NoError(t, err)
	_, err = svc.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	call := func(path string) (int64, error) {
		before := counted.lookups.Load()
		_, err := svc.StartWebhook(ctx, service.WebhookRequest{Method: "POST", Path: path})
		return counted.lookups.Load() - before, err
	}
	_, err = call("/full") // reads the catalog counter: later calls recall it
	require.ErrorIs(t, err, flow.ErrQueueFull)
	n, err := call("/full")
	require.ErrorIs(t, err, flow.ErrQueueFull)
	require.Equal(t, int64(1), n, "refused for capacity: not served again")
	n, err = call("/unknown")
	require.ErrorIs(t, err, flow.ErrWebhookNotFound)
	require.Equal(t, int64(2), n, "not found from a catalog not read: served again with it read")
}

// TestWebhookReplayVerifiesTheCatalog: an idempotent replay writes
// nothing, so no guard verifies the route it was answered from. A token
// rotated on another replica refuses the old token's replay here too, as a
// route read from the database would, though this replica remembers the
// route with the old token.
func TestWebhookReplayVerifiesTheCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	a, b := newTestService(t, openPostgres(t, url), service.WithDispatcher(acceptAll{})), newTestService(t, openPostgres(t, url))
	def := func(token string) flow.Definition {
		return flow.Definition{Name: "rotated-" + token, Nodes: []flow.Node{{ID: "hook", Type: flow.NodeTrigger,
			Data: map[string]any{"triggerType": "webhook", "method": "POST", "path": "/rotated", "verify_token": token}}}}
	}
	w, err := b.CreateWorkflow(ctx, def("old"))
	require.NoError(t, err)
	_, err = b.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	call := func() (*service.StartResult, error) {
		return a.StartWebhook(ctx, service.WebhookRequest{Method: "POST", Path: "/rotated", Token: "old",
			IdempotencyKey: "k", Body: bodyOf(map[string]any{"n": 1})})
	}
	res, err := call()
	require.NoError(t, err)
	require.False(t, res.Replayed)
	res, err = call()
	require.NoError(t, err)
	require.True(t, res.Replayed, "the same call again: replayed")

	// On the other replica, the path moves to another workflow with another
	// token; this replica remembers the first workflow's route.
	_, err = b.DeactivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	w2, err := b.CreateWorkflow(ctx, def("new"))
	require.NoError(t, err)
	_, err = b.ActivateWorkflow(ctx, w2.ID)
	require.NoError(t, err)
	_, err = call()
	require.ErrorIs(t, err, flow.ErrWebhookToken, "the route's token changed before the call: not a replay")

	_, err = b.DeactivateWorkflow(ctx, w2.ID)
	require.NoError(t, err)
	_, err = call()
	require.ErrorIs(t, err, flow.ErrWebhookNotFound, "the route is gone before the call: not a replay")
}

// viewKeeper is acceptAll keeping the catalog views it is handed.
type viewKeeper struct {
	acceptAll
	views chan *store.CatalogView
}

func (k viewKeeper) DispatchNew(_ *flow.Execution, v *store.CatalogView) { k.views <- v }

// TestStartHandsOverTheInsertsCatalogView: on PostgreSQL the engine gets
// an execution with the catalog as its insert's transaction read it, for
// its first steps' lookups (store.Tx.ReadCatalogView): the counter as it
// stands, nothing having changed since.
func TestStartHandsOverTheInsertsCatalogView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := viewKeeper{views: make(chan *store.CatalogView, 2)}
	url := storetest.PostgresURL(t)
	s := newTestService(t, openPostgres(t, url), service.WithDispatcher(k))
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer raw.Close()
	w, err := s.CreateWorkflow(ctx, flow.Definition{Name: "handed-view", Nodes: []flow.Node{{ID: "hook",
		Type: flow.NodeTrigger, Data: map[string]any{"triggerType": "webhook", "method": "POST", "path": "/handed-view"}}}})
	require.NoError(t, err)
	_, err = s.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	_, err = s.StartExecution(ctx, service.StartRequest{WorkflowID: w.ID})
	require.NoError(t, err)
	_, err = s.StartWebhook(ctx, service.WebhookRequest{Method: "POST", Path: "/handed-view"})
	require.NoError(t, err)
	var counter uint64
	require.NoError(t, raw.QueryRowContext(ctx, "SELECT version FROM catalog_version").Scan(&counter))
	for range 2 {
		select {
		case v := <-k.views:
			require.True(t, v.FilledWithin(time.Minute))
			gen, _ := v.Generation(func() (uint64, bool) { t.Fatal("a filled view reads"); return 0, false }, nil)
			require.Equal(t, counter, gen)
		case <-time.After(10 * time.Second):
			t.Fatal("no execution handed over")
		}
	}
}

// bodyOf is a webhook request's body, already decoded.
func bodyOf(m map[string]any) func() (map[string]any, error) {
	return func() (map[string]any, error) { return m, nil }
}
