package engine

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"flowker/internal/catalog"
)

// A run under way always has its cancel recorded: it is set with the
// drive mark, under one lock, so Stop's hand-back, Cancel and the
// heartbeat never meet a run that drives without one. Once the run is
// over and the execution was dispatched again, the old cancel is dropped:
// a cancel meanwhile is kept for the next run instead of going to one that
// has ended.
func TestDriveMarkCarriesTheRunsCancel(t *testing.T) {
	e := New(nil, nil, catalog.Default(), nil, zap.NewNop(), nil, Options{Owner: "o"})
	id := uuid.New()
	e.mu.Lock()
	rec := e.record(id)
	rec.queued, rec.dispatches = true, 1
	e.mu.Unlock()

	cancelled := 0
	release, as, ok := e.drive(context.Background(), id, func(error) { cancelled++ })
	require.True(t, ok)
	require.Equal(t, 1, as.dispatch)
	e.mu.Lock()
	require.NotNil(t, e.execs[id].cancel, "a run that drives has its cancel")
	e.execs[id].dispatches++ // dispatched again while this run ends
	e.mu.Unlock()

	e.finished(id, as.dispatch, nil)
	require.False(t, e.Cancel(id), "the ended run's cancel is gone")
	require.Zero(t, cancelled)
	e.mu.Lock()
	require.True(t, e.execs[id].cancelRequested, "kept for the next run")
	e.mu.Unlock()
	release()
}
