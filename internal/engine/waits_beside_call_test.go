package engine

// A wait reached while a parallel call is in flight and no other node is
// ready: its row used to be written only with the save before the next
// call, or the park — so not before the slow call ended (found by a
// defect hunt). It is written at once: a review is in the inbox and can be
// decided while the call runs.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

func TestReviewBesideACallInFlightIsDecidedWhileItRuns(t *testing.T) {
	env := newTestEnv(t, nil)
	release := env.holdPaths("/slow")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("slow", "/slow", nil), env.callNode("score", "/score", nil),
		waitNode("r", flow.NodeReview, map[string]any{"deadline": "1h", "defaultDecision": "reject"}),
		output("ok", map[string]any{"result": "approved"}), output("no", map[string]any{"result": "rejected"})},
		link("t", "slow"), link("t", "score"), link("score", "r"), link("r", "ok", "approve"), link("r", "no", "reject"))
	id := env.start(wf, nil)
	env.awaitCalls("/slow", 1)
	env.awaitCalls("/score", 1) // answered at once: the review is reached while /slow is in flight

	ctx := context.Background()
	require.Eventually(t, func() bool {
		page, err := env.raw.ListReviews(ctx, flow.ReviewFilter{ExecutionID: id, Status: flow.WaitOpen,
			Page: flow.PageRequest{Limit: 10, SortBy: "createdAt"}})
		require.NoError(t, err)
		return len(page.Items) == 1
	}, 3*time.Second, 5*time.Millisecond, "the review reached beside an in-flight call is not in the inbox")
	require.Contains(t, auditTypes(t, env.raw), "WAIT_OPENED")
	ex, err := env.raw.GetExecution(ctx, id)
	require.NoError(t, err)
	require.Equal(t, flow.ExecRunning, ex.Status, "not parked: /slow is in flight")

	env.decide(id, "alice", "approve") // while /slow still runs
	release["/slow"]()
	done, steps := env.await(id)
	require.Equal(t, flow.ExecCompleted, done.Status, done.ErrorMessage)
	require.Equal(t, map[string]any{"result": "approved"}, done.Output)
	require.Equal(t, "approve", stepOutput(steps, "r").(map[string]any)["decision"])
	require.Empty(t, env.openWaits(id))
}
