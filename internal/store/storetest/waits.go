package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

func runWaits(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("WaitsLifecycle", func(t *testing.T) { t.Parallel(); testWaitsLifecycle(t, open(t)) })
	t.Run("WaitsParkAndWake", func(t *testing.T) { t.Parallel(); testParkAndWake(t, open(t)) })
	t.Run("WaitsDueAndReviews", func(t *testing.T) { t.Parallel(); testDueAndReviews(t, open(t)) })
}

func openWait(ex *flow.Execution, node string, kind flow.NodeType, created time.Time, due *time.Time) flow.Wait {
	w := flow.Wait{ID: uuid.New(), ExecutionID: ex.ID, WorkflowID: ex.WorkflowID, NodeID: node, Kind: kind,
		Status: flow.WaitOpen, DueAt: due, Signal: node, CreatedAt: created}
	if kind == flow.NodeReview {
		w.Review = &flow.ReviewTask{Title: "Check", Context: map[string]any{"amount": 10.0},
			Decisions: []string{"approve", "reject"}, RequiredApprovals: 2, Group: "compliance"}
	}
	return w
}

func testWaitsLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	ex := Execution(uuid.New(), flow.ExecRunning, queueBase, "w1", queueBase.Add(time.Minute))
	createAll(t, s, ex)
	review := openWait(ex, "r", flow.NodeReview, queueBase, nil)
	require.NoError(t, s.SaveWaits(ctx, []flow.Wait{review}))
	again := openWait(ex, "r", flow.NodeReview, queueBase.Add(time.Second), nil)
	require.NoError(t, s.SaveWaits(ctx, []flow.Wait{again}), "a node's open wait is kept, not duplicated")
	ws, err := s.ListWaits(ctx, ex.ID)
	require.NoError(t, err)
	require.Len(t, ws, 1)
	require.Equal(t, review.ID, ws[0].ID)
	require.Equal(t, review.Review, ws[0].Review)

	d := flow.Decision{Decision: "approve", Comment: "fine", ActorType: "api_key", ActorID: "alice", DecidedAt: queueBase}
	require.NoError(t, s.AddDecision(ctx, review.ID, d))
	require.ErrorIs(t, s.AddDecision(ctx, review.ID, d), flow.ErrAlreadyDecided, "one decision per identity")
	d.ActorID = "bob"
	require.NoError(t, s.AddDecision(ctx, review.ID, d))
	got, err := s.GetWait(ctx, review.ID)
	require.NoError(t, err)
	require.Len(t, got.Decisions, 2)

	resolved := *got
	at := queueBase.Add(time.Minute)
	resolved.Status, resolved.Handle, resolved.Output, resolved.ResolvedAt = flow.WaitResolved, "approve",
		map[string]any{"decision": "approve"}, &at
	ok, err := s.ResolveWait(ctx, &resolved)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.ResolveWait(ctx, &resolved)
	require.NoError(t, err)
	require.False(t, ok, "a wait resolves once")
	got, err = s.GetWait(ctx, review.ID)
	require.NoError(t, err)
	require.Equal(t, "approve", got.Handle)
	require.Equal(t, map[string]any{"decision": "approve"}, got.Output)

	// A node waits afresh once its wait is no longer open.
	require.NoError(t, s.SaveWaits(ctx, []flow.Wait{again}))
	closed, err := s.CancelWaits(ctx, ex.ID, at)
	require.NoError(t, err)
	require.Len(t, closed, 1)
	require.Equal(t, again.ID, closed[0].ID)

	sig := &flow.Signal{ExecutionID: ex.ID, Name: "kyc", Payload: map[string]any{"ok": true}, Source: "callback",
		ActorType: "callback", ActorID: "kyc", ReceivedAt: queueBase}
	require.NoError(t, s.AddSignal(ctx, sig))
	require.ErrorIs(t, s.AddSignal(ctx, sig), flow.ErrSignalUsed)
	sigs, err := s.ListSignals(ctx, ex.ID)
	require.NoError(t, err)
	require.Equal(t, []flow.Signal{*sig}, sigs)
}

func testParkAndWake(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := queueBase
	ex := Execution(uuid.New(), flow.ExecRunning, now, "w1", now.Add(time.Minute))
	createAll(t, s, ex)
	require.ErrorIs(t, s.ParkExecution(ctx, "w2", ex.ID, now), store.ErrLeaseLost)
	require.NoError(t, s.ParkExecution(ctx, "w1", ex.ID, now))
	got := getExecution(t, s, ex.ID)
	require.Equal(t, flow.ExecWaiting, got.Status)
	require.Empty(t, got.LeaseOwner)
	n, err := s.CountUnfinished(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a waiting execution is not in the queue")
	ids, err := s.ClaimExecutions(ctx, "w3", now.Add(time.Hour), now.Add(2*time.Hour), 10, false)
	require.NoError(t, err)
	require.Empty(t, ids, "nobody claims a waiting execution")
	waiting, _, err := s.CountWaiting(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, waiting)

	locked, err := s.LockExecution(ctx, ex.ID, false)
	require.NoError(t, err)
	require.Equal(t, flow.ExecWaiting, locked.Status)
	_, err = s.LockExecution(ctx, uuid.New(), false)
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)

	ok, err := s.WakeExecution(ctx, ex.ID, "w2", now, now.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	got = getExecution(t, s, ex.ID)
	require.Equal(t, flow.ExecRunning, got.Status)
	require.Equal(t, "w2", got.LeaseOwner)
	ok, err = s.WakeExecution(ctx, ex.ID, "w3", now, now.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, ok, "only a waiting execution wakes")

	// Woken without an owner, any process's rescuer claims it.
	require.NoError(t, s.ParkExecution(ctx, "w2", ex.ID, now))
	ok, err = s.WakeExecution(ctx, ex.ID, "", now, time.Time{})
	require.NoError(t, err)
	require.True(t, ok)
	ids, err = s.ClaimExecutions(ctx, "w3", now, now.Add(time.Minute), 10, false)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{ex.ID}, ids)

	// A waiting execution is cancelled at once.
	require.NoError(t, s.ParkExecution(ctx, "w3", ex.ID, now))
	after, changed, err := s.RequestCancel(ctx, ex.ID, now)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, flow.ExecCancelled, after.Status)
}

func testDueAndReviews(t *testing.T, s store.Store) {
	ctx := context.Background()
	wf := uuid.New()
	var all []flow.Wait
	for i := range 5 {
		ex := Execution(wf, flow.ExecWaiting, queueBase, "", time.Time{})
		createAll(t, s, ex)
		due := queueBase.Add(time.Duration(5-i) * time.Minute)
		kind := flow.NodeDelay
		if i%2 == 0 {
			kind = flow.NodeReview
		}
		all = append(all, openWait(ex, "n", kind, queueBase.Add(time.Duration(i)*time.Second), &due))
	}
	require.NoError(t, s.SaveWaits(ctx, all))
	due, err := s.DueWaits(ctx, queueBase.Add(3*time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, due, 3, "due by then: the waits due at +1, +2 and +3 minutes")
	require.Equal(t, all[4].ID, due[0].ID, "earliest first")
	due, err = s.DueWaits(ctx, queueBase.Add(time.Hour), 2)
	require.NoError(t, err)
	require.Len(t, due, 2)

	page, err := s.ListReviews(ctx, flow.ReviewFilter{Status: flow.WaitOpen, Group: "compliance",
		Page: flow.PageRequest{Limit: 2, SortBy: "createdAt"}})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, all[0].ID, page.Items[0].ID)
	require.True(t, page.HasMore)
	next, err := flow.DecodeCursor(page.NextCursor)
	require.NoError(t, err)
	page, err = s.ListReviews(ctx, flow.ReviewFilter{WorkflowID: wf, Page: flow.PageRequest{Limit: 10, SortBy: "createdAt", After: next}})
	require.NoError(t, err)
	require.Len(t, page.Items, 1, "three reviews, two delays")
	before := queueBase.Add(time.Second)
	page, err = s.ListReviews(ctx, flow.ReviewFilter{CreatedBefore: &before, Page: flow.PageRequest{Limit: 10, SortBy: "createdAt"}})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	_, oldest, err := s.CountWaiting(ctx)
	require.NoError(t, err)
	require.Equal(t, queueBase, oldest.UTC())
}
