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

// testExecutionSlots: counts by 15-minute UTC slot and status, over
// [from, to), for all workflows or one; a slot's bounds are exact to the
// microsecond on both databases.
func testExecutionSlots(t *testing.T, s store.Store) {
	ctx := context.Background()
	wf, other := uuid.New(), uuid.New()
	base := time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)
	at := func(d string) time.Time {
		dur, err := time.ParseDuration(d)
		require.NoError(t, err)
		return base.Add(dur)
	}
	createAll(t, s,
		Execution(wf, flow.ExecCompleted, at("-1us"), "", time.Time{}),          // before the range
		Execution(wf, flow.ExecCompleted, at("0s"), "", time.Time{}),            // slot 00:00, first instant
		Execution(wf, flow.ExecCompleted, at("14m59.999999s"), "", time.Time{}), // slot 00:00, last instant
		Execution(other, flow.ExecFailed, at("10m"), "", time.Time{}),           // slot 00:00, another workflow
		Execution(wf, flow.ExecCompleted, at("15m"), "", time.Time{}),           // slot 00:15
		Execution(wf, flow.ExecRunning, at("2h59m"), "", time.Time{}),           // slot 02:45
		Execution(wf, flow.ExecFailed, at("2h50m"), "", time.Time{}),            // slot 02:45
		Execution(wf, flow.ExecCompleted, at("3h"), "", time.Time{}),            // the range's end: excluded
	)
	slot := func(d string, st flow.ExecutionStatus, n int64) flow.SlotCount {
		return flow.SlotCount{Start: at(d), Status: st, Count: n}
	}

	all, err := s.CountExecutionsBySlot(ctx, base, at("3h"), nil)
	require.NoError(t, err)
	require.Equal(t, []flow.SlotCount{
		slot("0s", flow.ExecCompleted, 2), slot("0s", flow.ExecFailed, 1),
		slot("15m", flow.ExecCompleted, 1),
		slot("2h45m", flow.ExecFailed, 1), slot("2h45m", flow.ExecRunning, 1),
	}, all)

	one, err := s.CountExecutionsBySlot(ctx, base, at("3h"), &wf)
	require.NoError(t, err)
	require.Equal(t, []flow.SlotCount{
		slot("0s", flow.ExecCompleted, 2), slot("15m", flow.ExecCompleted, 1),
		slot("2h45m", flow.ExecFailed, 1), slot("2h45m", flow.ExecRunning, 1),
	}, one)

	// A range inside a slot counts only its part; a range with nothing is empty.
	part, err := s.CountExecutionsBySlot(ctx, at("5m"), at("12m"), nil)
	require.NoError(t, err)
	require.Equal(t, []flow.SlotCount{slot("0s", flow.ExecFailed, 1)}, part)
	none, err := s.CountExecutionsBySlot(ctx, at("4h"), at("5h"), nil)
	require.NoError(t, err)
	require.Empty(t, none)
	nobody := uuid.Nil
	none, err = s.CountExecutionsBySlot(ctx, base, at("3h"), &nobody)
	require.NoError(t, err)
	require.Empty(t, none, "the nil UUID names no workflow")
}
