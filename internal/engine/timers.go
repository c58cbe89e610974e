package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/waits"
)

// Timer limits: the due waits one pass looks at, and how many it resolves
// at once (their transactions are group-committed together).
const (
	maxTimers      = 500
	timersParallel = 32
)

// Wake runs change in a group-committed transaction; when change reports
// that it resolved a wait of an execution, the execution is woken in the
// same transaction — leased to this process and dispatched here when it
// has room, else pending and unleased for any process's rescuer. Every
// resolution comes through here: decisions, callbacks and signals (the
// service) and due timers.
func (e *Engine) Wake(ctx context.Context, change func(tx store.Tx, now time.Time) (uuid.UUID, bool, error)) error {
	reserved := e.Reserve()
	owner := ""
	if reserved {
		owner = e.opts.Owner
	}
	var woken uuid.UUID
	err := e.store.Batch(ctx, func(tx store.Tx) error {
		woken = uuid.Nil // fn may run again if the shared commit fails
		now := e.now()
		id, resolved, err := change(tx, now)
		if err != nil || !resolved {
			return err
		}
		ok, err := tx.WakeExecution(ctx, id, owner, now, e.LeaseUntil(now))
		if ok && owner != "" {
			woken = id
		}
		return err
	})
	// A commit whose answer was lost may have leased the execution here:
	// it is run, and its load finds whether it was (status and lease).
	if woken != uuid.Nil && (err == nil || errors.Is(err, store.ErrOutcomeUnknown)) {
		e.Dispatch(ctx, woken)
		return err
	}
	if reserved {
		e.Release()
	}
	return err
}

// fireTimers resolves the waits whose due time passed — a review's
// deadline (its default decision), a callback's timeout, a delay — and
// wakes their executions. Finding them is a read, so a pass with nothing
// due costs no write transaction. Each is resolved in its own transaction
// (group-committed with the others): a wait that cannot be resolved holds
// up no other. An execution another transaction holds (a decision being
// recorded) is skipped this pass (SKIP LOCKED on PostgreSQL); of two
// processes firing the same wait, the conditional resolve lets one win.
func (e *Engine) fireTimers(ctx context.Context) {
	due, err := e.store.DueWaits(ctx, e.now(), maxTimers)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("looking for due timers failed", zap.String("operation", "engine.timers"),
				zap.String("error.message", err.Error()))
		}
		return
	}
	var fired atomic.Int64
	var wg sync.WaitGroup
	slots := make(chan struct{}, timersParallel)
	for _, w := range due {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			ok, err := e.fire(ctx, w)
			switch {
			case ok:
				fired.Add(1)
			case err != nil && ctx.Err() == nil:
				e.log.Warn("firing a timer failed", zap.String("operation", "engine.timers"),
					zap.String("wait.id", w.ID.String()), zap.String("execution.id", w.ExecutionID.String()),
					zap.String("error.message", err.Error()))
			}
		})
	}
	wg.Wait()
	if n := fired.Load(); n > 0 {
		e.log.Info("timers fired", zap.String("operation", "engine.timers"), zap.Int64("count", n))
	}
}

// fire resolves one due wait and reports whether it did: expired (a
// review's default decision, a callback's timeout edge), fired (a delay),
// or — a callback whose signal came before its row was written —
// resolved with that signal.
func (e *Engine) fire(ctx context.Context, due flow.Wait) (fired bool, err error) {
	err = e.Wake(ctx, func(tx store.Tx, now time.Time) (uuid.UUID, bool, error) {
		fired = false
		ex, err := tx.LockExecution(ctx, due.ExecutionID, true)
		if err != nil || ex == nil {
			return uuid.Nil, false, err // ex nil: held by a decision or a worker right now, next pass
		}
		// Read again under the execution's lock: what was found due was read
		// before, and a decision committed since (a four-eyes vote) belongs in
		// the expired review's output.
		w, err := tx.GetWait(ctx, due.ID)
		if err != nil || !w.Open() {
			return uuid.Nil, false, err // resolved meanwhile: nothing to fire
		}
		if ex.Status.Terminal() { // cannot happen (waits close with their execution); never claim it again
			w.Status, w.ResolvedAt = flow.WaitCancelled, &now
			_, err := tx.ResolveWait(ctx, w)
			return uuid.Nil, false, err
		}
		// A callback's signal may be there already: accepted before the wait's
		// row was written (its delivery found no wait to resolve), and read
		// here under the same lock every delivery takes, so a delivery either
		// committed before this (and wins) or comes after and finds the wait
		// closed (409 FLK-0526).
		sig, err := signalOf(ctx, tx, w)
		if err != nil {
			return uuid.Nil, false, err
		}
		received := waits.Fire(w, sig, now)
		if ok, err := tx.ResolveWait(ctx, w); err != nil || !ok {
			return uuid.Nil, false, err
		}
		eventType, action, meta := audit.WaitFired, "EXPIRE", map[string]any(nil)
		switch {
		case received:
			eventType, action, meta = audit.WaitResolved, "SIGNAL", map[string]any{"signal": w.Signal, "early": true}
		case w.Status == flow.WaitExpired:
			eventType = audit.WaitExpired
		}
		if err := tx.AppendAudit(ctx, waits.Event(ctx, now, eventType, action, w, meta)); err != nil {
			return uuid.Nil, false, err
		}
		fired = true
		return w.ExecutionID, true, nil
	})
	return fired && err == nil, err
}

// signalOf is the signal a wait_for_callback waits for, if it came; nil
// for other waits.
func signalOf(ctx context.Context, tx store.Tx, w *flow.Wait) (*flow.Signal, error) {
	if w.Kind != flow.NodeWaitForCallback {
		return nil, nil //nolint:nilnil // documented: no signal
	}
	sigs, err := tx.ListSignals(ctx, w.ExecutionID)
	if err != nil {
		return nil, err
	}
	for i := range sigs {
		if sigs[i].Name == w.Signal {
			return &sigs[i], nil
		}
	}
	return nil, nil //nolint:nilnil // documented: none came
}
