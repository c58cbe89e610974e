package httpapi_test

// Arrivals after a wait's due time, before the timer pass that resolves it
// has run (the timer loop is slowed down here so the window is wide; in
// production it is 250 ms, or longer after an outage or with a backlog of
// due waits: DueWaits reads 500 per pass). Found by a defect hunt.

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/engine"
)

// noTimerPass: the timer pass does not run during the test.
func noTimerPass(o *engine.Options) { o.TimerInterval = time.Hour }

// docs/waiting.md: "a first one after the wait's timeout ... is 409
// FLK-0526", also before a timer pass has resolved the wait: the timeout
// edge is the wait's, not the late callback's.
func TestCallbackAfterTimeoutIsLate(t *testing.T) {
	t.Parallel()
	e := newTunedKeyedFlowEnv(t, nil, nil, "", noTimerPass)
	nodes, edges := e.callbackFlow(map[string]any{"timeout": "1s"})
	nodes = append(nodes, outputNode("gave-up", map[string]any{"timedOut": true}))
	edges = append(edges, edge("wait", "gave-up", "timeout"))
	id := e.startAsync(e.activate(nodes, edges), nil)
	path := callbackPath(t, e.waitCalls("/kyc", 1)[0], "callbackUrl")
	e.awaitStatus(id, "waiting")
	time.Sleep(1500 * time.Millisecond) // the timeout passed

	r := e.callBack(path, map[string]any{"late": true})
	require.Equal(t, http.StatusConflict, r.status,
		"a callback 0.5 s after its timeout must be refused as late (FLK-0526); got %d %s", r.status, r.body)
}

// docs/waiting.md: "A review with a deadline takes its defaultDecision when
// it passes": an approval cast after the deadline, before a timer pass has
// expired the review, is refused, and the payment does not run on it.
func TestDecisionAfterDeadlineIsRefused(t *testing.T) {
	t.Parallel()
	e := newTunedKeyedFlowEnv(t, nil, []string{"alice"}, "", noTimerPass)
	id := e.startAsync(e.activate(e.reviewFlow(map[string]any{"deadline": "1s", "defaultDecision": "reject"})), nil)
	rev := e.openReview(id)["id"].(string)
	e.awaitStatus(id, "waiting")
	time.Sleep(1500 * time.Millisecond) // the deadline passed

	r := e.as("alice").decide(rev, "approve")
	require.Equal(t, http.StatusConflict, r.status,
		"an approval 0.5 s after the deadline (defaultDecision reject) must be refused; got %d %s", r.status, r.body)
}
