package service_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
)

// viewStore records the catalog view each lookup was made under.
type viewStore struct {
	store.Store
	mu    sync.Mutex
	views map[string]*store.CatalogView
}

func (s *viewStore) saw(ctx context.Context, lookup string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.views[lookup] = store.CatalogViewOf(ctx)
}

func (s *viewStore) FindWebhookRoute(ctx context.Context, method, path string) (*flow.WebhookRoute, error) {
	s.saw(ctx, "route")
	return s.Store.FindWebhookRoute(ctx, method, path)
}

func (s *viewStore) WorkflowRevision(ctx context.Context, id uuid.UUID) (int, error) {
	s.saw(ctx, "revision")
	return s.Store.WorkflowRevision(ctx, id)
}

// TestWebhookLookupsShareAView: a webhook call looks its route and its
// workflow's revision up under one catalog view (one read of PostgreSQL's
// catalog counter for both).
func TestWebhookLookupsShareAView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vs := &viewStore{Store: openSQLite(t), views: map[string]*store.CatalogView{}}
	svc := newTestService(t, vs)
	w, err := svc.CreateWorkflow(ctx, flow.Definition{Name: "viewed", Nodes: []flow.Node{{ID: "hook",
		Type: flow.NodeTrigger, Data: map[string]any{"triggerType": "webhook", "method": "POST", "path": "/viewed"}}}})
	require.NoError(t, err)
	_, err = svc.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)

	_, err = svc.StartWebhook(ctx, service.WebhookRequest{Method: "POST", Path: "/viewed"})
	require.ErrorIs(t, err, flow.ErrQueueFull, "no engine: refused once both lookups are made")
	vs.mu.Lock()
	defer vs.mu.Unlock()
	require.NotNil(t, vs.views["route"])
	require.Same(t, vs.views["route"], vs.views["revision"])
}
