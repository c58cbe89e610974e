package engine

import (
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
)

// The circuit breaker's one half-open trial call, cut short by its own
// execution's end (a cancel, or the execution deadline) before the
// provider answered, counts for nothing: it counted as a success, closed
// the breaker, and every execution after it went to a provider the
// breaker had just found failing (found by a defect hunt).
func TestBreakerTrialCutShortKeepsItOpen(t *testing.T) {
	const openFor = 300 * time.Millisecond
	env := newTestEnv(t, func(o *Options) {
		o.Breaker = BreakerPolicy{Failures: 1, OpenFor: openFor}
		o.Retry.MaxAttempts = 1
	})
	env.fake.Respond("/fail", providertest.Response{Status: 503, Body: `{"error":"down"}`})
	env.held("/hang") // the provider hangs: the trial call never gets an answer

	failing := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/fail", nil)}, linkTA)
	hanging := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/hang", nil)}, linkTA)

	ex, _ := env.await(env.start(failing, nil))
	require.Equal(t, flow.ExecFailed, ex.Status)
	cb := env.eng.breakers.get("provider_config:" + env.pc.String())
	require.NotEqual(t, gobreaker.StateClosed, cb.State(), "one transient failure opens the breaker")
	// gobreaker runs on the wall clock: after OpenFor it lets one trial through.
	require.Eventually(t, func() bool { return cb.State() == gobreaker.StateHalfOpen }, waitLimit, 5*time.Millisecond)

	trial := env.start(hanging, nil) // the half-open trial call
	env.awaitRequests("/hang", 1)
	require.Eventually(t, func() bool { return env.cancel(trial) }, waitLimit, time.Millisecond)
	ex, _ = env.await(trial)
	require.Equal(t, flow.ExecCancelled, ex.Status)

	// The provider never answered the trial: nothing shows it recovered.
	require.NotEqual(t, gobreaker.StateClosed.String(), cb.State().String(),
		"a trial call cut short by its execution's cancel closed the breaker (counts %+v)", cb.Counts())
	// Nor is the breaker stuck half-open: the next trial goes through, and
	// its answer closes it.
	ok := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/ok", nil)}, linkTA)
	ex, _ = env.await(env.start(ok, nil))
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Equal(t, gobreaker.StateClosed, cb.State())
}
