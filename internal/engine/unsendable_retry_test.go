package engine

import (
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
)

// badHeader is a node header net/http refuses to send.
var badHeader = map[string]any{"headers": map[string]any{"X-Tenant": "acme\r\nX-Other: 1"}}

// A request that cannot be sent because of its own content (a CR or LF in
// a header) was classed a transport fault: tried ENGINE_MAX_ATTEMPTS
// times, each failure counted by the configuration's circuit breaker, so
// one bad workflow opened the breaker for every workflow on that
// configuration (found by a defect hunt). It now fails at once and the
// breaker does not count it.
func TestUnsendableRequestIsNotRetriedNorCounted(t *testing.T) {
	env := newTestEnv(t, func(o *Options) {
		o.Clock = realClock{} // backoffs run on their own
		o.Retry = RetryPolicy{MaxAttempts: 3, Base: time.Millisecond, Max: time.Millisecond}
		o.Breaker = BreakerPolicy{Failures: 2, OpenFor: time.Hour}
	})
	bad := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/score", badHeader)}, linkTA)
	good := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/score", nil)}, linkTA)
	cb := env.eng.breakers.get("provider_config:" + env.pc.String())

	for range 3 {
		ex, steps := env.await(env.start(bad, nil))
		require.Equal(t, flow.ExecFailed, ex.Status)
		require.Len(t, steps, 1)
		require.Equal(t, 1, steps[0].Attempts, "a request that cannot be sent is not retried: %s", steps[0].ErrorMessage)
		require.Contains(t, steps[0].ErrorMessage, "request not sent")
	}
	require.Empty(t, env.fake.RequestsTo("/score"), "nothing was sent")
	require.Equal(t, gobreaker.StateClosed, cb.State())
	require.Zero(t, cb.Counts().TotalFailures, "the breaker counted requests that were never sent")

	ex, _ := env.await(env.start(good, nil))
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
}

// Nor does such a request count as a success: a half-open breaker's one
// trial call, if unsendable, says nothing of the target and must not
// close it.
func TestUnsendableTrialKeepsTheBreakerOpen(t *testing.T) {
	const openFor = 200 * time.Millisecond
	env := newTestEnv(t, func(o *Options) {
		o.Breaker = BreakerPolicy{Failures: 1, OpenFor: openFor}
		o.Retry.MaxAttempts = 1
	})
	env.fake.Respond("/fail", providertest.Response{Status: 503, Body: `{"error":"down"}`})
	failing := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/fail", nil)}, linkTA)
	bad := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/score", badHeader)}, linkTA)
	cb := env.eng.breakers.get("provider_config:" + env.pc.String())

	ex, _ := env.await(env.start(failing, nil))
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Equal(t, gobreaker.StateOpen, cb.State())
	require.Eventually(t, func() bool { return cb.State() == gobreaker.StateHalfOpen }, waitLimit, 5*time.Millisecond)

	ex, steps := env.await(env.start(bad, nil)) // the half-open trial
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Contains(t, steps[0].ErrorMessage, "request not sent")
	require.Equal(t, gobreaker.StateHalfOpen, cb.State(),
		"an unsendable trial call moved the breaker (counts %+v)", cb.Counts())

	// The next trial goes through, and its answer closes the breaker.
	ok := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/ok", nil)}, linkTA)
	ex, _ = env.await(env.start(ok, nil))
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Equal(t, gobreaker.StateClosed, cb.State())
}
