package service_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store/storetest" //nolint:depguard // a fresh PostgreSQL schema for the test
)

// TestActivateRacesConfigDelete: deleting a provider configuration is
// refused (409 FLK-0351) while an active workflow's executor node names
// it (docs/decisions.md, "configurations in use"); activating a workflow
// requires its provider configurations to exist. An activation and a
// delete of the configuration it names, concurrent on PostgreSQL, must not
// both succeed: that leaves an active workflow whose every run fails (found
// by a defect hunt: in most rounds both did, each check reading before the
// other's write committed).
func TestActivateRacesConfigDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	a, b := newTestService(t, openPostgres(t, url)), newTestService(t, openPostgres(t, url))
	both := 0
	const rounds = 60
	for i := range rounds {
		pc, err := a.CreateProviderConfig(ctx, flow.ProviderConfig{Name: fmt.Sprintf("risk-%d", i), ProviderID: "http",
			Config: map[string]any{"base_url": "https://risk.example.com"}})
		require.NoError(t, err)
		w, err := a.CreateWorkflow(ctx, flow.Definition{Name: fmt.Sprintf("uses-%d", i),
			Nodes: []flow.Node{
				{ID: "start", Type: flow.NodeTrigger},
				{ID: "risk", Type: flow.NodeExecutor, Data: map[string]any{"executorId": "http.request",
					"providerConfigId": pc.ID.String(), "method": "POST", "path": "/score"}},
			},
			Edges: []flow.Edge{{ID: "e1", Source: "start", Target: "risk"}}})
		require.NoError(t, err)
		var wg sync.WaitGroup
		var actErr, delErr error
		wg.Add(2)
		go func() { defer wg.Done(); _, actErr = a.ActivateWorkflow(ctx, w.ID) }()
		go func() { defer wg.Done(); delErr = b.DeleteProviderConfig(ctx, pc.ID) }()
		wg.Wait()
		if actErr == nil && delErr == nil {
			both++
			if both > 3 {
				continue
			}
			got, err := a.GetWorkflow(ctx, w.ID)
			require.NoError(t, err)
			_, err = a.GetProviderConfig(ctx, pc.ID)
			t.Logf("round %d: workflow %s is %s and names provider configuration %s, which is gone (%v)",
				i, w.ID, got.Status, pc.ID, err)
		}
	}
	require.Zero(t, both, "%d of %d rounds: both the activation and the delete succeeded", both, rounds)
}
