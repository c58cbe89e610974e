package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
)

// A call's retries were sent with the configuration resolved when the
// call began, also after it was disabled (found by a defect hunt): each
// retry now checks the configuration is still the one resolved, active
// and of the same revision, and stops with the reason otherwise.
func TestRetriesStopWhenTheConfigurationIsDisabled(t *testing.T) {
	env := newTestEnv(t, func(o *Options) {
		o.Clock = realClock{} // backoffs run on their own
		o.Retry = RetryPolicy{MaxAttempts: 5, Base: 20 * time.Millisecond, Max: 20 * time.Millisecond}
	})
	var once sync.Once
	env.fake.HandleFunc("/score", func(providertest.Request) providertest.Response {
		once.Do(func() { // disabled while its first attempt is answered
			ctx := context.Background()
			pc, err := env.raw.GetProviderConfig(ctx, env.pc)
			require.NoError(t, err)
			prev := pc.Revision
			require.NoError(t, pc.SetStatus(flow.ConfigDisabled, time.Now().UTC()))
			require.NoError(t, env.raw.UpdateProviderConfig(ctx, pc, prev))
		})
		return providertest.Response{Status: 503, Body: `{"error":"down"}`}
	})
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/score", nil)}, linkTA)
	ex, steps := env.await(env.start(wf, nil))
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Len(t, env.fake.RequestsTo("/score"), 1, "nothing sent after the disable")
	require.Equal(t, 1, steps[0].Attempts)
	require.Contains(t, steps[0].ErrorMessage, "not retried")
	require.Contains(t, steps[0].ErrorMessage, "disabled")
}
