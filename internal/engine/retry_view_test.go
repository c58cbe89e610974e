package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
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
	env.disableOnFirstAnswer("/score")
	viewed := env.watchViews()
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/score", nil)}, linkTA)
	ex := env.insert(wf, nil)
	env.eng.DispatchNew(ex, env.filledView(time.Now()))
	got, steps := env.await(ex.ID)
	requireNotRetriedAfterTheDisable(t, env, got, steps)
	require.Equal(t, []bool{true, false}, viewed(), "the call resolved under the view, the retry's check did not")
}
