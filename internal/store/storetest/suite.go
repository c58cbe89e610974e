package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// Run runs the conformance suite. open must return an empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("WorkflowRoundTrip", func(t *testing.T) { t.Parallel(); testRoundTrip(t, open(t)) })
	t.Run("WorkflowNameUnique", func(t *testing.T) { t.Parallel(); testNameUnique(t, open(t)) })
	t.Run("WorkflowConditionalWrites", func(t *testing.T) { t.Parallel(); testConditionalWrites(t, open(t)) })
	t.Run("WorkflowConcurrentUpdates", func(t *testing.T) { t.Parallel(); testConcurrentUpdates(t, open(t)) })
	t.Run("WorkflowListPaging", func(t *testing.T) { t.Parallel(); testListPaging(t, open(t)) })
	t.Run("WorkflowListFilters", func(t *testing.T) { t.Parallel(); testListFilters(t, open(t)) })
	t.Run("ProviderConfigs", func(t *testing.T) { t.Parallel(); testProviderConfigs(t, open(t)) })
	t.Run("RevisionReadsUnderLoad", func(t *testing.T) { t.Parallel(); testRevisionReadsUnderLoad(t, open(t)) })
	t.Run("CatalogLookupsSeeChanges", func(t *testing.T) { t.Parallel(); testCatalogLookupsSeeChanges(t, open(t)) })
	t.Run("CatalogLookupsUnderEdits", func(t *testing.T) { t.Parallel(); testCatalogLookupsUnderEdits(t, open(t)) })
	t.Run("ExecutorConfigs", func(t *testing.T) { t.Parallel(); testExecutorConfigs(t, open(t)) })
	t.Run("ExecutionTimeRange", func(t *testing.T) { t.Parallel(); testExecutionTimeRange(t, open(t)) })
	t.Run("ExecutionWithSteps", func(t *testing.T) { t.Parallel(); testExecutionWithSteps(t, open(t)) })
	t.Run("ReadBackExecution", func(t *testing.T) { t.Parallel(); testReadBackExecution(t, open(t)) })
	t.Run("ReadBackOverBudget", func(t *testing.T) { t.Parallel(); testReadBackOverBudget(t, open(t)) })
	t.Run("Dashboards", func(t *testing.T) { t.Parallel(); testDashboards(t, open(t)) })
	t.Run("ExecutionSlots", func(t *testing.T) { t.Parallel(); testExecutionSlots(t, open(t)) })
	t.Run("TxRollback", func(t *testing.T) { t.Parallel(); testTxRollback(t, open(t)) })
	t.Run("Ping", func(t *testing.T) { t.Parallel(); require.NoError(t, open(t).Ping(context.Background())) })
	t.Run("AuditTimestampsMonotonic", func(t *testing.T) { t.Parallel(); testAuditMonotonic(t, open(t)) })
	t.Run("AuditHashesAnyText", func(t *testing.T) { t.Parallel(); testAuditAnyText(t, open(t)) })
	runQueue(t, open)
	runBatch(t, open)
	runValues(t, open)
	runWaits(t, open)
	runHistory(t, open)
}

func testRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	w := Workflow("round-trip", c.Now())
	w.CreatedAt = w.CreatedAt.Add(123456 * 1000) // sub-millisecond precision must survive
	require.NoError(t, s.CreateWorkflow(ctx, w))

	got, err := s.GetWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, w, got)

	_, err = s.GetWorkflow(ctx, uuid.New())
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound)

	empty := flow.NewWorkflow(uuid.New(), flow.Definition{Name: "empty"}, c.Now())
	require.NoError(t, s.CreateWorkflow(ctx, empty))
	got, err = s.GetWorkflow(ctx, empty.ID)
	require.NoError(t, err)
	require.Empty(t, got.Nodes)
	require.Empty(t, got.Edges)
	require.Empty(t, got.Metadata)
}

func testNameUnique(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	a, b := Workflow("same", c.Now()), Workflow("same", c.Now())
	require.NoError(t, s.CreateWorkflow(ctx, a))
	require.ErrorIs(t, s.CreateWorkflow(ctx, b), flow.ErrWorkflowNameUsed)

	// Names are case-sensitive and compared by bytes.
	require.NoError(t, s.CreateWorkflow(ctx, Workflow("SAME", c.Now())))

	// A rename onto a taken name is the same conflict.
	other := Workflow("other", c.Now())
	require.NoError(t, s.CreateWorkflow(ctx, other))
	other.Name = "same"
	other.Revision++
	require.ErrorIs(t, s.UpdateWorkflow(ctx, other, other.Revision-1), flow.ErrWorkflowNameUsed)
}

func testConditionalWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	w := Workflow("cas", c.Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))

	require.NoError(t, w.Transition(flow.StatusActive, c.Now()))
	require.NoError(t, s.UpdateWorkflow(ctx, w, 1))
	got, err := s.GetWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, flow.StatusActive, got.Status)
	require.Equal(t, 2, got.Revision)
	rev, err := s.WorkflowRevision(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, 2, rev)

	stale := *w
	stale.Description = "stale writer"
	stale.Revision = 2
	require.ErrorIs(t, s.UpdateWorkflow(ctx, &stale, 1), flow.ErrStateChanged)
	require.ErrorIs(t, s.DeleteWorkflow(ctx, w.ID, 1), flow.ErrStateChanged)

	ghost := Workflow("ghost", c.Now())
	require.ErrorIs(t, s.UpdateWorkflow(ctx, ghost, 1), flow.ErrWorkflowNotFound)
	require.ErrorIs(t, s.DeleteWorkflow(ctx, ghost.ID, 1), flow.ErrWorkflowNotFound)

	require.NoError(t, s.DeleteWorkflow(ctx, w.ID, 2))
	_, err = s.GetWorkflow(ctx, w.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound)
	_, err = s.WorkflowRevision(ctx, w.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound)
}

// testConcurrentUpdates: writers racing from the same revision — exactly
// one wins, every other one learns it lost.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	w := Workflow("race", c.Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))

	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		mine := *w
		mine.Description = uuid.NewString()
		mine.Revision = 2
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(tx store.Tx) error { return tx.UpdateWorkflow(ctx, &mine, 1) })
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, flow.ErrStateChanged)
	}
	require.Equal(t, 1, won)
}

func testListPaging(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	names := seq("wf", 7)
	for _, n := range slices.Backward(names) { // created in reverse name order
		w := Workflow(n, c.Now())
		require.NoError(t, s.CreateWorkflow(ctx, w))
	}
	byCreated := slices.Clone(names)
	slices.Reverse(byCreated)

	cases := []struct {
		sortBy string
		desc   bool
		want   []string
	}{
		{"name", false, names},
		{"name", true, reversed(names)},
		{"createdAt", false, byCreated},
		{"createdAt", true, reversed(byCreated)},
		{"updatedAt", false, byCreated},
	}
	for _, tc := range cases {
		var got []string
		req := flow.PageRequest{Limit: 3, SortBy: tc.sortBy, Desc: tc.desc}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 5, "paging does not end")
			page, err := s.ListWorkflows(ctx, flow.WorkflowFilter{Page: req})
			require.NoError(t, err)
			got = append(got, Names(page.Items)...)
			if !page.HasMore {
				require.Empty(t, page.NextCursor)
				break
			}
			req.After, err = flow.DecodeCursor(page.NextCursor)
			require.NoError(t, err)
			require.Equal(t, tc.sortBy, req.After.SortBy)
		}
		require.Equal(t, tc.want, got, "sort %s desc=%v", tc.sortBy, tc.desc)
	}
}

func testListFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	for _, n := range []string{"a", "b", "c"} {
		w := Workflow(n, c.Now())
		if n != "b" {
			require.NoError(t, w.Transition(flow.StatusActive, c.Now()))
		}
		require.NoError(t, s.CreateWorkflow(ctx, w))
	}
	page := flow.PageRequest{Limit: 10, SortBy: "name"}
	list := func(f flow.WorkflowFilter) []string {
		f.Page = page
		p, err := s.ListWorkflows(ctx, f)
		require.NoError(t, err)
		return Names(p.Items)
	}
	require.Equal(t, []string{"a", "c"}, list(flow.WorkflowFilter{Status: flow.StatusActive}))
	require.Equal(t, []string{"b"}, list(flow.WorkflowFilter{Status: flow.StatusDraft}))
	require.Empty(t, list(flow.WorkflowFilter{Status: flow.StatusInactive}))
	require.Equal(t, []string{"c"}, list(flow.WorkflowFilter{Name: "c"}))
	require.Empty(t, list(flow.WorkflowFilter{Name: "C"}))
	require.Equal(t, []string{"a"}, list(flow.WorkflowFilter{Name: "a", Status: flow.StatusActive}))
}

func testTxRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	w := Workflow("rolled-back", c.Now())
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Tx) error {
		require.NoError(t, tx.CreateWorkflow(ctx, w))
		got, err := tx.GetWorkflow(ctx, w.ID) // a transaction sees its own writes
		require.NoError(t, err)
		require.Equal(t, w.Name, got.Name)
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = s.GetWorkflow(ctx, w.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound)

	// A panic in fn rolls back too, before it goes on up: the transaction
	// held the writer (SQLite) and the row's lock (PostgreSQL), and ctx,
	// never cancelled, would not have ended it.
	require.NoError(t, s.CreateWorkflow(ctx, w))
	require.Panics(t, func() {
		_ = s.InTx(ctx, func(tx store.Tx) error {
			w.Revision = 2
			require.NoError(t, tx.UpdateWorkflow(ctx, w, 1))
			panic("boom")
		})
	})
	soon, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	w.Description = "after the panic"
	require.NoError(t, s.InTx(soon, func(tx store.Tx) error { return tx.UpdateWorkflow(soon, w, 1) }),
		"the panicked update was rolled back and let go of the row")
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
