package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
	"flowker/internal/store"
	"flowker/internal/store/faultstore"
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
	env.disableOnFirstAnswer("/score")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/score", nil)}, linkTA)
	ex, steps := env.await(env.start(wf, nil))
	requireNotRetriedAfterTheDisable(t, env, ex, steps)
}

// disableOnFirstAnswer makes the fake answer path 503 and disable the
// env's provider configuration while it answers the first call.
func (env *testEnv) disableOnFirstAnswer(path string) {
	t := env.t
	var once sync.Once
	env.fake.HandleFunc(path, func(providertest.Request) providertest.Response {
		once.Do(func() {
			ctx := context.Background()
			pc, err := env.raw.GetProviderConfig(ctx, env.pc)
			require.NoError(t, err)
			prev := pc.Revision
			require.NoError(t, pc.SetStatus(flow.ConfigDisabled, time.Now().UTC()))
			require.NoError(t, env.raw.UpdateProviderConfig(ctx, pc, prev))
		})
		return providertest.Response{Status: 503, Body: `{"error":"down"}`}
	})
}

// requireNotRetriedAfterTheDisable: the call to /score failed after one
// attempt, its retries stopped by the disable.
func requireNotRetriedAfterTheDisable(t *testing.T, env *testEnv, ex *flow.Execution, steps []flow.Step) {
	t.Helper()
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Len(t, env.fake.RequestsTo("/score"), 1, "nothing sent after the disable")
	require.Equal(t, 1, steps[0].Attempts)
	require.Contains(t, steps[0].ErrorMessage, "not retried")
	require.Contains(t, steps[0].ErrorMessage, "disabled")
}

// A store that cannot tell, at a retry, whether the configuration is still
// current (a failed read) does not end the call: it is retried, and
// completes once the provider answers.
func TestRetriesGoOnWhenTheConfigurationCannotBeRead(t *testing.T) {
	env := newTestEnv(t, func(o *Options) {
		o.Clock = realClock{} // backoffs run on their own
		o.Retry = RetryPolicy{MaxAttempts: 3, Base: 20 * time.Millisecond, Max: 20 * time.Millisecond}
	})
	var calls atomic.Int32
	env.fake.HandleFunc("/score", func(providertest.Request) providertest.Response {
		if calls.Add(1) == 1 { // the retry's check of the configuration then fails once
			env.st.Fail("ProviderConfigRevision", faultstore.Once, store.Unavailable(errors.New("database restarting")))
			return providertest.Response{Status: 503, Body: `{"error":"down"}`}
		}
		return providertest.Response{Body: `{"ok":true}`}
	})
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/score", nil)}, linkTA)
	ex, steps := env.await(env.start(wf, nil))
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Equal(t, 2, steps[0].Attempts)
}
