package faultstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

// The waits part of store.Tx (methods.go has the rest).

func (x tx) SaveWaits(ctx context.Context, ws []flow.Wait) error {
	if err := x.f.enter(ctx, "SaveWaits"); err != nil {
		return err
	}
	return x.t.SaveWaits(ctx, ws)
}

func (x tx) ListWaits(ctx context.Context, executionID uuid.UUID) ([]flow.Wait, error) {
	if err := x.f.enter(ctx, "ListWaits"); err != nil {
		return nil, err
	}
	return x.t.ListWaits(ctx, executionID)
}

func (x tx) GetWait(ctx context.Context, id uuid.UUID) (*flow.Wait, error) {
	if err := x.f.enter(ctx, "GetWait"); err != nil {
		return nil, err
	}
	return x.t.GetWait(ctx, id)
}

func (x tx) ListReviews(ctx context.Context, f flow.ReviewFilter) (flow.Page[flow.Wait], error) {
	if err := x.f.enter(ctx, "ListReviews"); err != nil {
		return flow.Page[flow.Wait]{}, err
	}
	return x.t.ListReviews(ctx, f)
}

func (x tx) ResolveWait(ctx context.Context, w *flow.Wait) (bool, error) {
	if err := x.f.enter(ctx, "ResolveWait"); err != nil {
		return false, err
	}
	return x.t.ResolveWait(ctx, w)
}

func (x tx) CancelWaits(ctx context.Context, executionID uuid.UUID, now time.Time) ([]flow.Wait, error) {
	if err := x.f.enter(ctx, "CancelWaits"); err != nil {
		return nil, err
	}
	return x.t.CancelWaits(ctx, executionID, now)
}

func (x tx) AddDecision(ctx context.Context, waitID uuid.UUID, d flow.Decision) error {
	if err := x.f.enter(ctx, "AddDecision"); err != nil {
		return err
	}
	return x.t.AddDecision(ctx, waitID, d)
}

func (x tx) AddSignal(ctx context.Context, s *flow.Signal) error {
	if err := x.f.enter(ctx, "AddSignal"); err != nil {
		return err
	}
	return x.t.AddSignal(ctx, s)
}

func (x tx) ListSignals(ctx context.Context, executionID uuid.UUID) ([]flow.Signal, error) {
	if err := x.f.enter(ctx, "ListSignals"); err != nil {
		return nil, err
	}
	return x.t.ListSignals(ctx, executionID)
}

func (x tx) DueWaits(ctx context.Context, now time.Time, limit int) ([]flow.Wait, error) {
	if err := x.f.enter(ctx, "DueWaits"); err != nil {
		return nil, err
	}
	return x.t.DueWaits(ctx, now, limit)
}

func (x tx) LockExecution(ctx context.Context, id uuid.UUID, skipLocked bool) (*flow.Execution, error) {
	if err := x.f.enter(ctx, "LockExecution"); err != nil {
		return nil, err
	}
	return x.t.LockExecution(ctx, id, skipLocked)
}

func (x tx) ParkExecution(ctx context.Context, owner string, id uuid.UUID, now time.Time) error {
	if err := x.f.enter(ctx, "ParkExecution"); err != nil {
		return err
	}
	return x.t.ParkExecution(ctx, owner, id, now)
}

func (x tx) WakeExecution(ctx context.Context, id uuid.UUID, owner string, now, until time.Time) (bool, error) {
	if err := x.f.enter(ctx, "WakeExecution"); err != nil {
		return false, err
	}
	return x.t.WakeExecution(ctx, id, owner, now, until)
}

func (x tx) CountWaiting(ctx context.Context) (int64, *time.Time, error) {
	if err := x.f.enter(ctx, "CountWaiting"); err != nil {
		return 0, nil, err
	}
	return x.t.CountWaiting(ctx)
}
