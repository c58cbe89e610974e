package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// testExecutionTimeRange: startedFrom/startedTo bound startedAt inclusively,
// whatever the bounds' time zone, combine with the other filters, and keyset
// paging over a filtered list returns each row once, in order.
func testExecutionTimeRange(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
	wf, other := uuid.New(), uuid.New()
	var ids []uuid.UUID // started at base+0h … base+5h, the 5h one failed
	for i := range 6 {
		st := flow.ExecCompleted
		if i == 5 {
			st = flow.ExecFailed
		}
		e := Execution(wf, st, base.Add(time.Duration(i)*time.Hour), "", time.Time{})
		createAll(t, s, e)
		ids = append(ids, e.ID)
	}
	// Just outside the bounds, and another workflow inside them.
	createAll(t, s, Execution(wf, flow.ExecCompleted, base.Add(time.Hour-time.Millisecond), "", time.Time{}),
		Execution(wf, flow.ExecCompleted, base.Add(5*time.Hour+time.Millisecond), "", time.Time{}),
		Execution(other, flow.ExecCompleted, base.Add(2*time.Hour), "", time.Time{}))

	east := time.FixedZone("UTC+3", 3*3600)
	from, to := base.Add(time.Hour).In(east), base.Add(5*time.Hour) // inclusive
	list := func(f flow.ExecutionFilter, sortBy string, desc bool) []uuid.UUID {
		t.Helper()
		f.Page = flow.PageRequest{Limit: 2, SortBy: sortBy, Desc: desc}
		var got []uuid.UUID
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10, "paging does not end")
			page, err := s.ListExecutions(ctx, f)
			require.NoError(t, err)
			for _, e := range page.Items {
				got = append(got, e.ID)
			}
			if !page.HasMore {
				return got
			}
			f.Page.After, err = flow.DecodeCursor(page.NextCursor)
			require.NoError(t, err)
		}
	}
	want := ids[1:6]
	require.Equal(t, want, list(flow.ExecutionFilter{WorkflowID: wf, StartedFrom: &from, StartedTo: &to}, "startedAt", false))
	require.Equal(t, reversedIDs(want),
		list(flow.ExecutionFilter{WorkflowID: wf, StartedFrom: &from, StartedTo: &to}, "startedAt", true))
	require.Equal(t, want, list(flow.ExecutionFilter{WorkflowID: wf, StartedFrom: &from, StartedTo: &to}, "completedAt", false))
	require.Equal(t, ids[5:6], list(flow.ExecutionFilter{Status: flow.ExecFailed, StartedFrom: &from}, "startedAt", true))
	got := list(flow.ExecutionFilter{WorkflowID: wf, StartedTo: &from}, "startedAt", false)
	require.Len(t, got, 3) // base, base+1h-1ms, base+1h
	require.Equal(t, ids[0], got[0])
	require.Equal(t, ids[1], got[2])
	at := base.Add(3 * time.Hour)
	require.Equal(t, ids[3:4], list(flow.ExecutionFilter{WorkflowID: wf, StartedFrom: &at, StartedTo: &at}, "startedAt", true))
	late := base.Add(24 * time.Hour)
	require.Empty(t, list(flow.ExecutionFilter{StartedFrom: &late}, "startedAt", true))
}

func reversedIDs(ids []uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id
	}
	return out
}

// foreignProgress is a store.Progress no store encoded.
type foreignProgress struct{ id uuid.UUID }

func (p foreignProgress) Execution() uuid.UUID { return p.id }

// testEncodedProgress: a progress write encoded before the group commit
// (the engine's way) stores what the values were when it was encoded: the
// encoding holds none of them, so the caller may change or reuse them at
// once. A Progress the store did not encode writes nothing.
func testEncodedProgress(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := queueBase
	e := Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Minute))
	createAll(t, s, e)
	progress := *e
	progress.CurrentStep, progress.Output = 1, map[string]any{"seen": "at encoding"}
	steps := []flow.Step{{ExecutionID: e.ID, Number: 1, NodeID: "kyc", Name: "KYC", Status: flow.StepCompleted,
		Input: map[string]any{"n": float64(1)}, Output: map[string]any{"ok": true}, Attempts: 1,
		StartedAt: now, CompletedAt: now.Add(time.Millisecond)}}
	want := slices.Clone(steps)
	want[0].Output = map[string]any{"ok": true}
	encoded, err := s.EncodeProgress("me", &progress, steps)
	require.NoError(t, err)
	require.Equal(t, e.ID, encoded.Execution())
	progress.CurrentStep, progress.Output["seen"] = 7, "changed after"
	steps[0].NodeID, steps[0].Output.(map[string]any)["ok"] = "changed", false

	var cancel bool
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error { return tx.SaveEncodedProgress(ctx, encoded, &cancel) }))
	got := getExecution(t, s, e.ID)
	require.Equal(t, 1, got.CurrentStep)
	require.Equal(t, map[string]any{"seen": "at encoding"}, got.Output)
	stored, err := s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, want, stored)

	err = s.SaveEncodedProgress(ctx, foreignProgress{e.ID}, nil)
	require.Error(t, err)
	require.Equal(t, 1, getExecution(t, s, e.ID).CurrentStep)
}

// foreignExecution is a store.NewExecution no store encoded.
type foreignExecution struct{ id uuid.UUID }

func (e foreignExecution) Execution() uuid.UUID { return e.id }

// testEncodedExecution: an execution's insert encoded before the group
// commit (a start's way) stores the values as they were when encoded: the
// encoding holds none of them, so the caller may change them at once. A
// key already used is still ErrDuplicateIdempotencyKey, in a batch or not,
// and a NewExecution the store did not encode writes nothing.
func testEncodedExecution(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := Execution(uuid.New(), flow.ExecRunning, queueBase, "me", queueBase.Add(time.Minute))
	e.IdempotencyKey = "encoded-once"
	e.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	e.TraceState, e.Baggage = "vendor=opaque", "tenant=acme,region=eu"
	e.Input = map[string]any{"seen": "at encoding", "nested": map[string]any{"n": float64(1)}}
	encoded, err := s.EncodeExecution(e)
	require.NoError(t, err)
	require.Equal(t, e.ID, encoded.Execution())
	e.Input["seen"], e.Input["nested"].(map[string]any)["n"] = "changed after", float64(2)
	e.TriggerNodeID, e.IdempotencyKey = "changed-after", "changed-after"

	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error { return tx.CreateEncodedExecution(ctx, encoded) }))
	got := getExecution(t, s, e.ID)
	require.Equal(t, map[string]any{"seen": "at encoding", "nested": map[string]any{"n": float64(1)}}, got.Input)
	require.Equal(t, "trigger-1", got.TriggerNodeID)
	require.Equal(t, "encoded-once", got.IdempotencyKey)
	require.Equal(t, [3]string{e.TraceParent, "vendor=opaque", "tenant=acme,region=eu"},
		[3]string{got.TraceParent, got.TraceState, got.Baggage}, "the starting request's trace context")

	again := Execution(e.WorkflowID, flow.ExecRunning, queueBase, "me", queueBase.Add(time.Minute))
	again.IdempotencyKey = "encoded-once"
	reused, err := s.EncodeExecution(again)
	require.NoError(t, err)
	err = s.Batch(ctx, func(tx store.Tx) error { return tx.CreateEncodedExecution(ctx, reused) })
	require.ErrorIs(t, err, store.ErrDuplicateIdempotencyKey)
	require.ErrorIs(t, s.CreateEncodedExecution(ctx, reused), store.ErrDuplicateIdempotencyKey)

	stray := uuid.New()
	require.Error(t, s.CreateEncodedExecution(ctx, foreignExecution{stray}))
	_, err = s.GetExecution(ctx, stray)
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)
	_, err = s.GetExecution(ctx, again.ID)
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)
}

// testExecutionWithSteps: an execution and its steps as GetExecution and
// ListSteps return them, an unknown id is not found, and the two are read
// as of one moment: while progress writes add step n and set CurrentStep
// to n, every read sees as many steps as CurrentStep counts (two separate
// reads would see a write land between them).
func testExecutionWithSteps(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Date(2026, 7, 2, 10, 0, 0, 0, time.UTC)
	e := Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
	createAll(t, s, e)
	_, _, err := s.ExecutionWithSteps(ctx, uuid.New())
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)
	ended, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = s.ExecutionWithSteps(ended, e.ID)
	require.ErrorIs(t, err, context.Canceled, "asked with an ended context: not read")
	got, steps, err := s.ExecutionWithSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, getExecution(t, s, e.ID), got)
	require.Empty(t, steps)

	const writes = 60
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for n := 1; n <= writes; n++ {
			p := *e
			p.CurrentStep, p.TotalSteps, p.UpdatedAt = n, writes, now.Add(time.Duration(n)*time.Millisecond)
			st := flow.Step{ExecutionID: e.ID, Number: n, NodeID: "node", Name: "Node", Status: flow.StepCompleted,
				Output: map[string]any{"n": float64(n)}, Attempts: 1, StartedAt: p.UpdatedAt, CompletedAt: p.UpdatedAt}
			if err := s.Batch(ctx, func(tx store.Tx) error {
				return tx.SaveProgress(ctx, "me", &p, []flow.Step{st}, nil)
			}); err != nil {
				done <- err
				return
			}
		}
	}()
	reads := 0
	for finished := false; !finished; reads++ {
		select {
		case err, more := <-done:
			require.NoError(t, err)
			finished = !more
		default:
		}
		got, steps, err := s.ExecutionWithSteps(ctx, e.ID)
		require.NoError(t, err)
		require.Len(t, steps, got.CurrentStep, "read %d: the row and its steps from different moments", reads)
	}
	want, err := s.ListSteps(ctx, e.ID)
	require.NoError(t, err)
	_, steps, err = s.ExecutionWithSteps(ctx, e.ID)
	require.NoError(t, err)
	require.Len(t, steps, writes)
	require.Equal(t, want, steps)
}

// testReadBackExecution: a group commit's read of an execution it wrote
// (a synchronous caller's answer) sees the transaction's own writes, its
// steps included, while other callers' writes share the batch (PostgreSQL
// sends some of their inserts later, together); it is what a read after
// the commit finds.
func testReadBackExecution(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Date(2026, 7, 3, 10, 0, 0, 0, time.UTC)
	const callers = 32
	es := make([]*flow.Execution, callers)
	for i := range es {
		es[i] = Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
	}
	createAll(t, s, es...)
	got := make([]store.ExecutionResults, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i, e := range es {
		wg.Go(func() {
			done := *e
			done.Status, done.CompletedAt, done.CurrentStep, done.TotalSteps = flow.ExecCompleted, &now, 1, 1
			st := flow.Step{ExecutionID: e.ID, Number: 1, NodeID: "n", Name: "N", Status: flow.StepCompleted,
				Output: map[string]any{"caller": float64(i)}, Attempts: 1, StartedAt: now, CompletedAt: now}
			errs[i] = s.Batch(ctx, func(tx store.Tx) error {
				if err := tx.SaveProgress(ctx, "me", &done, []flow.Step{st}, nil); err != nil || i%2 == 0 {
					return err // an even caller reads nothing back: its steps' insert may be sent later
				}
				return tx.ReadBackExecution(ctx, e.ID, &got[i])
			})
		})
	}
	wg.Wait()
	for i, e := range es {
		require.NoError(t, errs[i])
		if i%2 == 0 {
			require.Nil(t, got[i].Execution)
			continue
		}
		want, steps, err := s.ExecutionWithSteps(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, store.ExecutionResults{Execution: want, Steps: steps}, got[i])
		require.Equal(t, flow.ExecCompleted, got[i].Execution.Status)
		require.Len(t, got[i].Steps, 1)
		require.Equal(t, map[string]any{"caller": float64(i)}, got[i].Steps[0].Output)
	}
}
