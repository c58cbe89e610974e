package engine

// A timer pass racing a decision on the review whose deadline it fires
// (found by a defect hunt).

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// dueHookStore runs afterDue once, right after DueWaits read the due waits
// (outside any transaction): the instant between the timer pass's read and
// its per-wait transaction.
type dueHookStore struct {
	store.Store
	mu       sync.Mutex
	afterDue func()
}

func (h *dueHookStore) DueWaits(ctx context.Context, now time.Time, limit int) ([]flow.Wait, error) {
	ws, err := h.Store.DueWaits(ctx, now, limit)
	h.mu.Lock()
	f := h.afterDue
	if len(ws) > 0 {
		h.afterDue = nil
	}
	h.mu.Unlock()
	if f != nil && len(ws) > 0 {
		f()
	}
	return ws, err
}

// A four-eyes review (two approvals, deadline → reject). Alice approves
// while the timer pass that expires the review has read it but not yet
// resolved it. The review expires (right: one approval is not two), but
// its output — what the next nodes see, and what is stored as the
// review's result and step output — must list every vote recorded
// before it was resolved: alice's approval is in review_decisions.
func TestExpiredReviewKeepsAVoteCastDuringTheTimerPass(t *testing.T) {
	raw, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	raw.UseAuditKey(storetest.AuditKey)
	h := &dueHookStore{Store: raw}
	env := startEnv(t, h, nil)
	review := waitNode("r", flow.NodeReview, map[string]any{"requiredApprovals": 2,
		"deadline": "1h", "defaultDecision": "reject"})
	wf := env.workflow([]flow.Node{trig("t"), review,
		output("ok", map[string]any{"result": "approved"}), output("no", map[string]any{"result": "rejected"})},
		link("t", "r"), link("r", "ok", "approve"), link("r", "no", "reject"))
	id := env.start(wf, nil)
	env.awaitStatus(id, flow.ExecWaiting)

	h.mu.Lock()
	h.afterDue = func() { env.decide(id, "alice", "approve") } // committed before the timer's transaction
	h.mu.Unlock()
	env.clock.waitTimers(t, idleTimers, "the timer loop")
	env.clock.Advance(61 * time.Minute)
	ex, _ := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Equal(t, map[string]any{"result": "rejected"}, ex.Output)

	ws, err := raw.ListWaits(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, ws, 1)
	require.Equal(t, flow.WaitExpired, ws[0].Status)
	require.Len(t, ws[0].Decisions, 1, "alice's approval is recorded")
	out, _ := ws[0].Output.(map[string]any)
	votes, _ := out["decisions"].([]any)
	require.Len(t, votes, 1, "the expired review's output lists the votes cast before it expired: %v", out)
}
