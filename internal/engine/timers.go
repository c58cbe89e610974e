package engine

import (
	"context"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/waits"
)

// maxTimers bounds the due waits one pass resolves.
const maxTimers = 500

// fireTimers resolves the waits whose due time passed — a review's
// deadline (its default decision), a callback's timeout, a delay — and
// wakes their executions, here as far as capacity allows, else for any
// process's rescuer. Waits are claimed like the queue: on PostgreSQL
// several processes share them with SKIP LOCKED. An execution another
// transaction holds (a decision being recorded) is skipped this pass.
func (e *Engine) fireTimers(ctx context.Context) {
	free := int(int64(e.opts.Concurrency+e.opts.QueueSize) - e.inFlight.Load())
	now := e.now()
	var woken []uuid.UUID
	fired := 0
	err := e.store.Batch(ctx, func(tx store.Tx) error {
		woken, fired = woken[:0], 0
		due, err := tx.DueWaits(ctx, now, maxTimers)
		if err != nil {
			return err
		}
		for i := range due {
			w := &due[i]
			ex, err := tx.LockExecution(ctx, w.ExecutionID, true)
			if err != nil {
				return err
			}
			if ex == nil {
				continue // held by a decision or a worker right now: next pass
			}
			if ex.Status.Terminal() { // cannot happen (waits close with their execution); never claim it again
				w.Status, w.ResolvedAt = flow.WaitCancelled, &now
				if _, err := tx.ResolveWait(ctx, w); err != nil {
					return err
				}
				continue
			}
			waits.Expire(w, now)
			if ok, err := tx.ResolveWait(ctx, w); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			fired++
			eventType := "WAIT_FIRED"
			if w.Status == flow.WaitExpired {
				eventType = "WAIT_EXPIRED"
			}
			if err := tx.AppendAudit(ctx, waits.Event(ctx, now, eventType, "EXPIRE", w, nil)); err != nil {
				return err
			}
			owner := e.opts.Owner
			if len(woken) >= free {
				owner = ""
			}
			ok, err := tx.WakeExecution(ctx, w.ExecutionID, owner, now, e.LeaseUntil(now))
			if err != nil {
				return err
			}
			if ok && owner != "" {
				woken = append(woken, w.ExecutionID)
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("firing timers failed", zap.String("operation", "engine.timers"), zap.String("error.message", err.Error()))
		}
		return
	}
	e.resume(woken)
	if fired > 0 {
		e.log.Info("timers fired", zap.String("operation", "engine.timers"), zap.Int("count", fired), zap.Int("resumed", len(woken)))
	}
}

// resume dispatches executions woken and leased to this process (as
// rescue does with the ones it claims).
func (e *Engine) resume(ids []uuid.UUID) {
	e.inFlight.Add(int64(len(ids)))
	for _, id := range ids {
		e.Dispatch(id)
	}
}
