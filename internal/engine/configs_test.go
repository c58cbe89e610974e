package engine

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
)

// A provider configuration is cached by revision: an edit or a disable
// made after a step applies to the next step, without a restart.
func TestProviderConfigChangesApplyToTheNextStep(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := context.Background()
	wf := env.workflow([]flow.Node{{ID: "t", Type: flow.NodeTrigger}, env.callNode("call", "/check", nil)},
		flow.Edge{ID: "e1", Source: "t", Target: "call"})
	update := func(change func(*flow.ProviderConfig)) {
		pc, err := env.raw.GetProviderConfig(ctx, env.pc)
		require.NoError(t, err)
		prev := pc.Revision
		change(pc)
		pc.Revision = prev + 1
		require.NoError(t, env.raw.UpdateProviderConfig(ctx, pc, prev))
	}

	ex, _ := env.await(env.start(wf, nil))
	require.Equal(t, flow.ExecCompleted, ex.Status)
	require.Len(t, env.fake.RequestsTo("/check"), 1)

	update(func(pc *flow.ProviderConfig) { pc.Status = flow.ConfigDisabled })
	ex, _ = env.await(env.start(wf, nil))
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Contains(t, ex.ErrorMessage, "is disabled; only an active one may run")
	require.Len(t, env.fake.RequestsTo("/check"), 1, "a disabled configuration is not called")

	moved := providertest.New(t)
	update(func(pc *flow.ProviderConfig) {
		pc.Status, pc.Config = flow.ConfigActive, map[string]any{"base_url": moved.URL}
	})
	ex, _ = env.await(env.start(wf, nil))
	require.Equal(t, flow.ExecCompleted, ex.Status)
	require.Len(t, moved.RequestsTo("/check"), 1, "the edited base URL is the one called")
	require.Len(t, env.fake.RequestsTo("/check"), 1)
}
