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

// A call that starts right after its write carries that write's catalog
// view (startCalls); its retries' check of the configuration looked the
// revision up under that view, as old as the call, so on PostgreSQL a
// disable meanwhile went unseen and every retry was sent with the disabled
// configuration's credentials (found by a defect hunt). The check reads
// the catalog as it is now. SQLite has no such view to go stale:
// TestRetriesStopWhenTheConfigurationIsDisabled.
func TestRetriesUnderACatalogViewStopWhenTheConfigurationIsDisabled(t *testing.T) {
	env := newPostgresEnv(t, func(o *Options) {
		o.Clock = realClock{}           // backoffs run on their own
		o.CatalogViewMaxAge = time.Hour // the first call surely uses the insert's view
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
	viewed := env.watchViews()
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/score", nil)}, linkTA)
	ex := env.insert(wf, nil)
	env.eng.DispatchNew(ex, env.filledView(time.Now()))
	got, steps := env.await(ex.ID)
	require.Equal(t, flow.ExecFailed, got.Status)
	require.Len(t, env.fake.RequestsTo("/score"), 1, "nothing sent after the disable")
	require.Equal(t, 1, steps[0].Attempts)
	require.Contains(t, steps[0].ErrorMessage, "not retried")
	require.Contains(t, steps[0].ErrorMessage, "disabled")
	require.Equal(t, []bool{true, false}, viewed(), "the call resolved under the view, the retry's check did not")
}
