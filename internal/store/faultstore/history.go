package faultstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

// The history part of store.Tx and store.Store: retention and dashboard
// rollups (methods.go has the rest).

func (x tx) TryLock(ctx context.Context, name string) (bool, error) {
	if err := x.f.enter(ctx, "TryLock"); err != nil {
		return false, err
	}
	return x.t.TryLock(ctx, name)
}

func (x tx) FinishedExecutionsBefore(ctx context.Context, t time.Time, limit int) ([]flow.Execution, error) {
	if err := x.f.enter(ctx, "FinishedExecutionsBefore"); err != nil {
		return nil, err
	}
	return x.t.FinishedExecutionsBefore(ctx, t, limit)
}

func (x tx) DeleteExecutions(ctx context.Context, ids []uuid.UUID) (int, error) {
	if err := x.f.enter(ctx, "DeleteExecutions"); err != nil {
		return 0, err
	}
	return x.t.DeleteExecutions(ctx, ids)
}

func (x tx) ExecutionRecords(ctx context.Context, ids []uuid.UUID,
	fn func(id uuid.UUID, steps []flow.Step, waits []flow.Wait, signals []flow.Signal) error) error {
	if err := x.f.enter(ctx, "ExecutionRecords"); err != nil {
		return err
	}
	return x.t.ExecutionRecords(ctx, ids, fn)
}

// FoldExecutionCounts forwards to the wrapped store (it runs its own
// transaction, so its statements carry no armed faults).
func (s *Store) FoldExecutionCounts(ctx context.Context, limit int) (int, error) {
	if err := s.enter(ctx, "FoldExecutionCounts"); err != nil {
		return 0, err
	}
	return s.s.FoldExecutionCounts(ctx, limit)
}
