package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// runQueue is the execution queue's contract: claims, leases, progress,
// cancel, retry, idempotency keys, group commit and webhook routes.
func runQueue(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("QueueClaim", func(t *testing.T) { t.Parallel(); testClaim(t, open(t)) })
	t.Run("QueueClaimConcurrent", func(t *testing.T) { t.Parallel(); testClaimConcurrent(t, open(t)) })
	t.Run("QueueSaveProgress", func(t *testing.T) { t.Parallel(); testSaveProgress(t, open(t)) })
	t.Run("QueueLeases", func(t *testing.T) { t.Parallel(); testLeases(t, open(t)) })
	t.Run("QueueLeasesOfHeldRows", func(t *testing.T) { t.Parallel(); testLeasesOfHeldRows(t, open(t)) })
	t.Run("QueueRequestCancel", func(t *testing.T) { t.Parallel(); testRequestCancel(t, open(t)) })
	t.Run("QueueRequeue", func(t *testing.T) { t.Parallel(); testRequeue(t, open(t)) })
	t.Run("IdempotencyKeys", func(t *testing.T) { t.Parallel(); testIdempotencyKeys(t, open(t)) })
	t.Run("BatchIsolation", func(t *testing.T) { t.Parallel(); testBatchIsolation(t, open(t)) })
	t.Run("WebhookRoutes", func(t *testing.T) { t.Parallel(); testWebhookRoutes(t, open(t)) })
	t.Run("WebhookRoutesConcurrent", func(t *testing.T) { t.Parallel(); testWebhookRoutesConcurrent(t, open(t)) })
}

// queueBase is the fixed "now" of the queue tests.
var queueBase = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

// Execution builds an execution fixture of wf started at started; a
// non-empty owner leases it until until.
func Execution(wf uuid.UUID, status flow.ExecutionStatus, started time.Time, owner string, until time.Time) *flow.Execution {
	e := &flow.Execution{ID: uuid.New(), WorkflowID: wf, WorkflowRevision: 1, TriggerNodeID: "trigger-1",
		Status: status, Input: map[string]any{"amount": float64(10)}, StartedAt: started, UpdatedAt: started}
	if owner != "" {
		e.LeaseOwner, e.LeaseExpiresAt = owner, &until
	}
	if status.Terminal() {
		done := started.Add(time.Second)
		e.CompletedAt = &done
	}
	return e
}

func createAll(t *testing.T, s store.Store, es ...*flow.Execution) {
	t.Helper()
	for _, e := range es {
		require.NoError(t, s.CreateExecution(context.Background(), e))
	}
}

func getExecution(t *testing.T, s store.Store, id uuid.UUID) *flow.Execution {
	t.Helper()
	e, err := s.GetExecution(context.Background(), id)
	require.NoError(t, err)
	return e
}

func testClaim(t *testing.T, s store.Store) {
	ctx := context.Background()
	now, wf := queueBase, uuid.New()
	at := func(sec int) time.Time { return now.Add(time.Duration(sec) * time.Second) }
	// Inserted out of start order: claims go by started_at, not insertion.
	p2 := Execution(wf, flow.ExecPending, at(-50), "", time.Time{})
	p1 := Execution(wf, flow.ExecPending, at(-60), "", time.Time{})
	expired := Execution(wf, flow.ExecRunning, at(-40), "dead", at(-1))
	live := Execution(wf, flow.ExecRunning, at(-30), "other", at(3600))
	mine := Execution(wf, flow.ExecRunning, at(-20), "me", at(3600))
	done := Execution(wf, flow.ExecCompleted, at(-90), "", time.Time{})
	failed := Execution(wf, flow.ExecFailed, at(-80), "dead", at(-1))
	cancelled := Execution(wf, flow.ExecCancelled, at(-70), "", time.Time{})
	createAll(t, s, p2, p1, expired, live, mine, done, failed, cancelled)

	until := at(60)
	ids, err := s.ClaimExecutions(ctx, "me", now, until, 1, false)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{p1.ID}, ids, "the oldest unfinished execution first")
	ids, err = s.ClaimExecutions(ctx, "me", now, until, 2, false)
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{p2.ID, expired.ID}, ids, "limit respected, oldest next")

	got := getExecution(t, s, p1.ID)
	require.Equal(t, flow.ExecRunning, got.Status, "a claimed pending execution is running")
	require.Equal(t, "me", got.LeaseOwner)
	require.Equal(t, until, *got.LeaseExpiresAt)
	got = getExecution(t, s, expired.ID)
	require.Equal(t, "me", got.LeaseOwner, "an expired lease is taken over")

	ids, err = s.ClaimExecutions(ctx, "me", now, until, 10, false)
	require.NoError(t, err)
	require.Empty(t, ids, "live leases (another's or one's own) are not claimed; terminal ones never")

	ids, err = s.ClaimExecutions(ctx, "me", now, at(120), 10, true)
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{p1.ID, p2.ID, expired.ID, mine.ID}, ids,
		"reclaimOwn takes back every live lease of the owner, not another's")
	require.Equal(t, at(120), *getExecution(t, s, mine.ID).LeaseExpiresAt)
	require.Equal(t, "other", getExecution(t, s, live.ID).LeaseOwner)

	ids, err = s.ClaimExecutions(ctx, "next", at(7200), at(7260), 10, false)
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{p1.ID, p2.ID, expired.ID, live.ID, mine.ID}, ids,
		"once every lease lapsed, every unfinished execution")
	for _, e := range []*flow.Execution{done, failed, cancelled} {
		got := getExecution(t, s, e.ID)
		require.Equal(t, e.Status, got.Status)
		require.Equal(t, e.LeaseOwner, got.LeaseOwner, "terminal executions are never claimed")
	}
	n, err := s.CountUnfinished(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 5, n)
}

// testClaimConcurrent: claimers racing on the same rows (separate
// goroutines, separate connections) never get the same execution, and
// between them get every one.
func testClaimConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const executions, claimers = 120, 8
	var all []uuid.UUID
	for i := range executions {
		e := Execution(uuid.New(), flow.ExecPending, queueBase.Add(time.Duration(i)*time.Millisecond), "", time.Time{})
		createAll(t, s, e)
		all = append(all, e.ID)
	}
	start := make(chan struct{})
	got := make([][]uuid.UUID, claimers)
	errs := make([]error, claimers)
	var wg sync.WaitGroup
	for i := range claimers {
		wg.Go(func() {
			<-start
			owner := fmt.Sprintf("claimer-%d", i)
			for {
				ids, err := s.ClaimExecutions(ctx, owner, queueBase, queueBase.Add(time.Hour), 3, false)
				if err != nil || len(ids) == 0 {
					errs[i] = err
					return
				}
				got[i] = append(got[i], ids...)
			}
		})
	}
	close(start)
	wg.Wait()
	seen := map[uuid.UUID]int{}
	for i := range claimers {
		require.NoError(t, errs[i])
		for _, id := range got[i] {
			if prev, dup := seen[id]; dup {
				t.Fatalf("execution %s claimed by claimer-%d and claimer-%d", id, prev, i)
			}
			seen[id] = i
		}
	}
	require.Len(t, seen, executions, "every execution claimed once")
	for _, id := range all {
		e := getExecution(t, s, id)
		require.Equal(t, fmt.Sprintf("claimer-%d", seen[id]), e.LeaseOwner, "the lease is the claimer's")
	}
}

func testSaveProgress(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := queueBase
	e := Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Minute))
	createAll(t, s, e)

	step := func(n int, node string) flow.Step {
		return flow.Step{ExecutionID: e.ID, Number: n, NodeID: node, Name: "Node " + node,
			Status: flow.StepCompleted, Input: map[string]any{"n": float64(n)}, Output: map[string]any{"ok": true},
			Attempts: 1, CallDetails: map[string]any{"statusCode": float64(200)},
			StartedAt: now.Add(time.Duration(n) * time.Second), CompletedAt: now.Add(time.Duration(n)*time.Second + 1500*time.Microsecond)}
	}
	progress := *e
	progress.CurrentStep, progress.TotalSteps, progress.UpdatedAt = 2, 3, now.Add(2*time.Second)
	lease := now.Add(3 * time.Minute)
	progress.LeaseExpiresAt = &lease
	steps := []flow.Step{step(1, "trigger-1"), step(2, "kyc")}
	var cancel bool
	err := s.SaveProgress(ctx, "me", &progress, steps, &cancel)
	require.NoError(t, err)
	require.False(t, cancel)

	got := getExecution(t, s, e.ID)
	require.Equal(t, 2, got.CurrentStep)
	require.Equal(t, 3, got.TotalSteps)
	require.Equal(t, lease, *got.LeaseExpiresAt, "a progress write extends the lease")
	require.Equal(t, progress.UpdatedAt, got.UpdatedAt)
	stored, err := s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, steps, stored)

	// Another worker holds the lease now: nothing is written.
	thief := progress
	thief.CurrentStep = 3
	err = s.SaveProgress(ctx, "thief", &thief, []flow.Step{step(3, "ledger")}, nil)
	require.ErrorIs(t, err, store.ErrLeaseLost)
	require.Equal(t, 2, getExecution(t, s, e.ID).CurrentStep)
	stored, err = s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Len(t, stored, 2)
	err = s.SaveProgress(ctx, "me", Execution(uuid.New(), flow.ExecRunning, now, "me", now), nil, nil)
	require.ErrorIs(t, err, store.ErrLeaseLost, "an execution that does not exist")

	// A cancel request reaches the worker through its next write.
	_, _, err = s.RequestCancel(ctx, e.ID, now.Add(3*time.Second))
	require.NoError(t, err)
	final := progress
	final.Status, final.CurrentStep, final.ErrorMessage = flow.ExecCancelled, 3, "cancelled"
	final.Output = map[string]any{"decision": "stop", "nested": map[string]any{"list": []any{"a", float64(1)}}}
	finished := now.Add(4 * time.Second)
	final.CompletedAt, final.UpdatedAt = &finished, finished
	err = s.SaveProgress(ctx, "me", &final, []flow.Step{step(3, "ledger")}, &cancel)
	require.NoError(t, err)
	require.True(t, cancel, "SaveProgress reports the cancel request")
	got = getExecution(t, s, e.ID)
	require.Equal(t, flow.ExecCancelled, got.Status)
	require.Equal(t, final.Output, got.Output)
	require.Equal(t, finished, *got.CompletedAt)
	require.Equal(t, "cancelled", got.ErrorMessage)
	stored, err = s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"trigger-1", "kyc", "ledger"}, stepNodes(stored), "steps in step-number order")

	// A running write from the owner of an execution that has finished
	// (the progress write is fenced on the status) writes nothing.
	late := progress
	late.CurrentStep, late.Output = 9, map[string]any{"late": true}
	err = s.SaveProgress(ctx, "me", &late, []flow.Step{step(4, "late")}, nil)
	require.ErrorIs(t, err, store.ErrLeaseLost)
	got = getExecution(t, s, e.ID)
	require.Equal(t, flow.ExecCancelled, got.Status, "not brought back to running")
	require.Equal(t, 3, got.CurrentStep)
	require.Equal(t, final.Output, got.Output)
	stored, err = s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Len(t, stored, 3)

	testEncodedProgress(t, s)
	testEncodedExecution(t, s)
}

func stepNodes(steps []flow.Step) []string {
	out := make([]string, len(steps))
	for i, st := range steps {
		out[i] = st.NodeID
	}
	return out
}

func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	now, wf := queueBase, uuid.New()
	until := now.Add(time.Minute)
	a := Execution(wf, flow.ExecRunning, now, "me", until)
	b := Execution(wf, flow.ExecPending, now.Add(time.Millisecond), "me", until)
	other := Execution(wf, flow.ExecRunning, now, "other", until)
	finished := Execution(wf, flow.ExecCompleted, now, "me", until)
	createAll(t, s, a, b, other, finished)

	later := now.Add(5 * time.Minute)
	untracked := Execution(wf, flow.ExecRunning, now, "me", until)
	createAll(t, s, untracked)
	all := []uuid.UUID{a.ID, b.ID, other.ID, finished.ID}
	n, err := s.ExtendLeases(ctx, "me", all, later)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the listed unfinished executions of the owner, no other")
	require.Equal(t, until, *getExecution(t, s, untracked.ID).LeaseExpiresAt, "a row the owner does not list lapses")
	require.Equal(t, later, *getExecution(t, s, a.ID).LeaseExpiresAt)
	require.Equal(t, later, *getExecution(t, s, b.ID).LeaseExpiresAt)
	require.Equal(t, until, *getExecution(t, s, other.ID).LeaseExpiresAt)
	require.Equal(t, until, *getExecution(t, s, finished.ID).LeaseExpiresAt)

	require.NoError(t, s.ReleaseLeases(ctx, "me", now))
	for _, id := range []uuid.UUID{a.ID, b.ID} {
		got := getExecution(t, s, id)
		require.Empty(t, got.LeaseOwner)
		require.Equal(t, now, *got.LeaseExpiresAt)
	}
	require.Equal(t, "other", getExecution(t, s, other.ID).LeaseOwner)
	require.Equal(t, "me", getExecution(t, s, finished.ID).LeaseOwner)
	n, err = s.ExtendLeases(ctx, "me", all, later)
	require.NoError(t, err)
	require.Zero(t, n, "released leases are not the owner's any more")

	// Released work is claimable at once by anyone.
	ids, err := s.ClaimExecutions(ctx, "heir", now.Add(time.Millisecond), later, 10, false)
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{a.ID, b.ID, untracked.ID}, ids)

	// Many ids: chunked statements, one total.
	var many []uuid.UUID
	for i := range 1203 {
		e := Execution(wf, flow.ExecRunning, now.Add(time.Duration(i)*time.Microsecond), "bulk", until)
		createAll(t, s, e)
		many = append(many, e.ID)
	}
	n, err = s.ExtendLeases(ctx, "bulk", many, later)
	require.NoError(t, err)
	require.Equal(t, len(many), n)
}

func testRequestCancel(t *testing.T, s store.Store) {
	ctx := context.Background()
	now, wf := queueBase, uuid.New()
	pending := Execution(wf, flow.ExecPending, now, "", time.Time{})
	running := Execution(wf, flow.ExecRunning, now, "me", now.Add(time.Minute))
	completed := Execution(wf, flow.ExecCompleted, now, "", time.Time{})
	createAll(t, s, pending, running, completed)
	at := now.Add(time.Second)

	got, changed, err := s.RequestCancel(ctx, pending.ID, at)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, flow.ExecCancelled, got.Status, "a pending execution is cancelled at once")
	require.Equal(t, at, *got.CompletedAt)
	require.True(t, got.CancelRequested)
	require.Equal(t, got, getExecution(t, s, pending.ID))

	got, changed, err = s.RequestCancel(ctx, running.ID, at)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, flow.ExecRunning, got.Status, "a running one is only flagged for its worker")
	require.True(t, got.CancelRequested)
	require.Nil(t, got.CompletedAt)
	require.Equal(t, "me", got.LeaseOwner)

	again, changed, err := s.RequestCancel(ctx, running.ID, at.Add(time.Second))
	require.NoError(t, err)
	require.False(t, changed, "a second request changes nothing")
	require.Equal(t, got, again)

	got, changed, err = s.RequestCancel(ctx, completed.ID, at)
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, completed, got, "a finished execution is left untouched")

	_, _, err = s.RequestCancel(ctx, uuid.New(), at)
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)
}

func testRequeue(t *testing.T, s store.Store) {
	ctx := context.Background()
	now, wf := queueBase, uuid.New()
	failed := Execution(wf, flow.ExecFailed, now, "", time.Time{})
	failed.ErrorMessage, failed.Output, failed.CancelRequested = "kyc: 500", map[string]any{"partial": true}, false
	cancelled := Execution(wf, flow.ExecCancelled, now, "", time.Time{})
	cancelled.CancelRequested = true
	createAll(t, s, failed, cancelled)
	at, until := now.Add(time.Minute), now.Add(2*time.Minute)

	for _, e := range []*flow.Execution{failed, cancelled} {
		got, err := s.Requeue(ctx, e.ID, "me", at, until)
		require.NoError(t, err)
		require.Equal(t, flow.ExecRunning, got.Status)
		require.False(t, got.CancelRequested)
		require.Empty(t, got.ErrorMessage)
		require.Nil(t, got.CompletedAt)
		require.Nil(t, got.Output)
		require.Equal(t, "me", got.LeaseOwner)
		require.Equal(t, until, *got.LeaseExpiresAt)
		require.Equal(t, at, got.UpdatedAt)
		require.Equal(t, got, getExecution(t, s, e.ID))
	}

	notRetryable := &flow.Error{Code: "FLK-0512"}
	for _, st := range []flow.ExecutionStatus{flow.ExecPending, flow.ExecRunning, flow.ExecCompleted} {
		e := Execution(wf, st, now, "", time.Time{})
		createAll(t, s, e)
		got, err := s.Requeue(ctx, e.ID, "me", at, until)
		require.ErrorIs(t, err, notRetryable, st)
		require.Equal(t, flow.KindUnprocessable, flow.KindOf(err))
		require.Equal(t, e, got, "returned and stored unchanged (%s)", st)
		require.Equal(t, e, getExecution(t, s, e.ID))
	}
	_, err := s.Requeue(ctx, uuid.New(), "me", at, until)
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)
}

func testIdempotencyKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	now, wfA, wfB := queueBase, uuid.New(), uuid.New()
	keyed := func(wf uuid.UUID, key string) *flow.Execution {
		e := Execution(wf, flow.ExecPending, now, "", time.Time{})
		e.IdempotencyKey, e.RequestHash = key, "hash-"+key
		return e
	}
	first := keyed(wfA, "k1")
	createAll(t, s, first)
	require.ErrorIs(t, s.CreateExecution(ctx, keyed(wfA, "k1")), store.ErrDuplicateIdempotencyKey)
	otherWF := keyed(wfB, "k1")
	require.NoError(t, s.CreateExecution(ctx, otherWF), "keys are per workflow")
	createAll(t, s, keyed(wfA, ""), keyed(wfA, ""), keyed(wfA, "K1")) // no key, twice; keys are case-sensitive

	got, err := s.FindExecutionByKey(ctx, wfA, "k1")
	require.NoError(t, err)
	require.Equal(t, first, got)
	got, err = s.FindExecutionByKey(ctx, wfB, "k1")
	require.NoError(t, err)
	require.Equal(t, otherWF.ID, got.ID)
	_, err = s.FindExecutionByKey(ctx, wfA, "missing")
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)
	_, err = s.FindExecutionByKey(ctx, uuid.New(), "k1")
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)

	// In a group commit the duplicate fails its own caller only.
	dup, fresh := keyed(wfA, "k1"), keyed(wfA, "k2")
	var wg sync.WaitGroup
	var errDup, errFresh error
	wg.Go(func() { errDup = s.Batch(ctx, func(tx store.Tx) error { return tx.CreateExecution(ctx, dup) }) })
	wg.Go(func() { errFresh = s.Batch(ctx, func(tx store.Tx) error { return tx.CreateExecution(ctx, fresh) }) })
	wg.Wait()
	require.ErrorIs(t, errDup, store.ErrDuplicateIdempotencyKey)
	require.NoError(t, errFresh)
	_, err = s.GetExecution(ctx, dup.ID)
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)
	require.Equal(t, fresh.ID, getExecution(t, s, fresh.ID).ID)
}

// testBatchIsolation: concurrent group-commit callers; the ones whose fn
// fails (after writing, or on a failed statement, which aborts the whole
// transaction on PostgreSQL) lose only their own writes.
func testBatchIsolation(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	taken := Workflow("taken", c.Now())
	require.NoError(t, s.CreateWorkflow(ctx, taken))

	const callers = 24
	boom := errors.New("boom")
	type caller struct {
		ws   []*flow.Workflow
		want error
		err  error
	}
	cs := make([]*caller, callers)
	for i := range cs {
		cl := &caller{ws: []*flow.Workflow{Workflow(fmt.Sprintf("b-%02d-a", i), c.Now()),
			Workflow(fmt.Sprintf("b-%02d-b", i), c.Now())}}
		switch i % 4 {
		case 1:
			cl.want = boom // writes both, then fails
		case 2:
			cl.ws[1].Name = "taken" // the second insert violates the unique name
			cl.want = flow.ErrWorkflowNameUsed
		}
		cs[i] = cl
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, cl := range cs {
		wg.Go(func() {
			<-start
			cl.err = s.Batch(ctx, func(tx store.Tx) error {
				for _, w := range cl.ws {
					if err := tx.CreateWorkflow(ctx, w); err != nil {
						return err
					}
				}
				if errors.Is(cl.want, boom) {
					return boom
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, cl := range cs {
		if cl.want == nil {
			require.NoError(t, cl.err, "caller %d", i)
		} else {
			require.ErrorIs(t, cl.err, cl.want, "caller %d", i)
		}
		for _, w := range cl.ws {
			if w.Name == "taken" {
				continue
			}
			_, err := s.GetWorkflow(ctx, w.ID)
			if cl.want == nil {
				require.NoError(t, err, "caller %d committed %s", i, w.Name)
			} else {
				require.ErrorIs(t, err, flow.ErrWorkflowNotFound, "caller %d's %s rolled back", i, w.Name)
			}
		}
	}
	// The store is still usable, and a lone caller's failure is its own.
	require.ErrorIs(t, s.Batch(ctx, func(store.Tx) error { return boom }), boom)
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error { return tx.CreateWorkflow(ctx, Workflow("after", c.Now())) }))
}

func testWebhookRoutes(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := uuid.New(), uuid.New()
	find := func(method, path string) (*flow.WebhookRoute, error) { return s.FindWebhookRoute(ctx, method, path) }

	require.NoError(t, s.ReplaceWebhookRoutes(ctx, a, []flow.WebhookRoute{
		{Method: "post", Path: "/payments/in", NodeID: "hook", VerifyToken: "enc:v1:sealed"},
		{Method: "GET", Path: "/payments/in", NodeID: "probe"}}))
	got, err := find("POST", "/payments/in")
	require.NoError(t, err)
	require.Equal(t, &flow.WebhookRoute{Method: "POST", Path: "/payments/in", WorkflowID: a, NodeID: "hook",
		VerifyToken: "enc:v1:sealed"}, got, "methods are stored upper-case")
	got, err = find("get", "/payments/in")
	require.NoError(t, err, "methods match in any case")
	require.Equal(t, "probe", got.NodeID)
	_, err = find("PUT", "/payments/in")
	require.ErrorIs(t, err, flow.ErrWebhookNotFound, "the method is part of the route")
	_, err = find("POST", "/Payments/in")
	require.ErrorIs(t, err, flow.ErrWebhookNotFound, "paths are case-sensitive")

	require.ErrorIs(t, s.InTx(ctx, func(tx store.Tx) error {
		return tx.ReplaceWebhookRoutes(ctx, b, []flow.WebhookRoute{{Method: "POST", Path: "/other", NodeID: "n"},
			{Method: "POST", Path: "/payments/in", NodeID: "n"}})
	}), store.ErrWebhookRouteTaken)
	_, err = find("POST", "/other")
	require.ErrorIs(t, err, flow.ErrWebhookNotFound, "the failed replacement rolled back with its transaction")
	got, err = find("POST", "/payments/in")
	require.NoError(t, err)
	require.Equal(t, a, got.WorkflowID, "the owner keeps its route")

	// Replacing drops the workflow's old routes, freeing them.
	require.NoError(t, s.ReplaceWebhookRoutes(ctx, a, []flow.WebhookRoute{{Method: "PUT", Path: "/payments/in", NodeID: "hook"}}))
	_, err = find("GET", "/payments/in")
	require.ErrorIs(t, err, flow.ErrWebhookNotFound)
	require.NoError(t, s.ReplaceWebhookRoutes(ctx, b, []flow.WebhookRoute{{Method: "POST", Path: "/payments/in", NodeID: "n"}}))
	got, err = find("POST", "/payments/in")
	require.NoError(t, err)
	require.Equal(t, b, got.WorkflowID)
	require.NoError(t, s.ReplaceWebhookRoutes(ctx, a, nil))
	_, err = find("PUT", "/payments/in")
	require.ErrorIs(t, err, flow.ErrWebhookNotFound, "no routes: every route removed")

	// A route one call could reach along with another workflow's is taken
	// (flow.WebhookPathsMeet): a call is matched as sent, then decoded.
	require.NoError(t, s.ReplaceWebhookRoutes(ctx, a, []flow.WebhookRoute{{Method: "POST", Path: "/pay in", NodeID: "h"},
		{Method: "POST", Path: "/fee%2520x", NodeID: "g"}, {Method: "POST", Path: "/100%", NodeID: "p"}}))
	for _, path := range []string{"/pay%20in", "/fee%20x", "/100%25"} {
		require.ErrorIs(t, s.ReplaceWebhookRoutes(ctx, b, []flow.WebhookRoute{{Method: "POST", Path: path, NodeID: "n"}}),
			store.ErrWebhookRouteTaken, path)
	}
	require.NoError(t, s.ReplaceWebhookRoutes(ctx, b, []flow.WebhookRoute{{Method: "GET", Path: "/pay%20in", NodeID: "n"},
		{Method: "POST", Path: "/fee x", NodeID: "n2"}, {Method: "POST", Path: "/pay_in", NodeID: "n3"}}),
		"another method, a route no call reaches along with another's, LIKE's _ taken as itself")
	require.NoError(t, s.ReplaceWebhookRoutes(ctx, a, []flow.WebhookRoute{{Method: "POST", Path: "/pay in", NodeID: "h"}}),
		"a workflow's own routes do not block it")
}

// testWebhookRoutesConcurrent: lookups made at once (shared between
// callers) each get their own route, or not found, and a route removed
// before a lookup is asked for is never found by it.
func testWebhookRoutesConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	owners := make([]uuid.UUID, 6)
	for i := range owners {
		owners[i] = uuid.New()
		require.NoError(t, s.ReplaceWebhookRoutes(ctx, owners[i], []flow.WebhookRoute{
			{Method: "POST", Path: fmt.Sprintf("/in/%d", i), NodeID: fmt.Sprintf("hook-%d", i)}}))
	}
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			for n := range 40 {
				i := (g + n) % (len(owners) + 1) // one past the last: no such route
				got, err := s.FindWebhookRoute(ctx, "post", fmt.Sprintf("/in/%d", i))
				if i == len(owners) {
					assert.ErrorIs(t, err, flow.ErrWebhookNotFound)
					continue
				}
				if i < 3 && errors.Is(err, flow.ErrWebhookNotFound) {
					continue // removed for a moment below
				}
				if assert.NoError(t, err) {
					assert.Equal(t, owners[i], got.WorkflowID)
					assert.Equal(t, fmt.Sprintf("hook-%d", i), got.NodeID)
					got.NodeID = "changed by a caller" // each caller has its own copy
				}
			}
		})
	}
	for i := range 3 { // removed while lookups run: gone for the next lookup
		require.NoError(t, s.ReplaceWebhookRoutes(ctx, owners[i], nil))
		_, err := s.FindWebhookRoute(ctx, "POST", fmt.Sprintf("/in/%d", i))
		require.ErrorIs(t, err, flow.ErrWebhookNotFound)
		require.NoError(t, s.ReplaceWebhookRoutes(ctx, owners[i], []flow.WebhookRoute{
			{Method: "POST", Path: fmt.Sprintf("/in/%d", i), NodeID: fmt.Sprintf("hook-%d", i)}}))
	}
	wg.Wait()
}
