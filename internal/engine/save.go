package engine

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
)

// Progress writes: every step and state change of a run goes through
// save, group-committed with other executions' writes.

// saveFailed decides what a failed progress write means: a lost lease or
// a database still down after the save's retries stops this attempt (the
// execution runs again here later); data the store refuses fails the
// execution with the cause, and the loop writes that instead. A write cut
// short by the run's own end (cancel, timeout) is left to finish.
func (r *run) saveFailed(ctx context.Context, err error) (verdict, bool) {
	switch {
	case context.Cause(ctx) != nil: // cancelled, timed out or handed back: finish says which
		return verdictDone, false
	case errors.Is(err, store.ErrLeaseLost):
		return verdictDone, true
	case store.Transient(err):
		return verdictRetry, true
	}
	r.g.fail(outcome{kind: outcomeFailed, reason: storableText("progress could not be stored: " + err.Error())})
	stripPayloads(r.pending)
	return verdictDone, false
}

// stripPayloads keeps steps' status and error but drops what the store
// refused to hold.
func stripPayloads(steps []flow.Step) {
	for i := range steps {
		steps[i].Input, steps[i].Output, steps[i].CallDetails = nil, nil, nil
		steps[i].ErrorMessage = storableText(steps[i].ErrorMessage)
	}
}

// Retries of one progress write while the database is unreachable, before
// the attempt is given up (and run again later from what is durable).
const (
	saveAttempts = 6
	saveBackoff  = 100 * time.Millisecond
)

// save persists pending steps and the execution's progress (with event,
// for the terminal state), group-committed with other executions' writes.
// Transient errors are retried with backoff while ctx lasts.
func (r *run) save(ctx context.Context, event *audit.Event, then ...func(store.Tx) error) error {
	r.ex.UpdatedAt = r.e.now()
	r.ex.CurrentStep = max(r.ex.CurrentStep, r.g.step)
	until := r.e.LeaseUntil(r.ex.UpdatedAt)
	r.ex.LeaseExpiresAt = &until
	// Encoded here, on the run's goroutine: the writer every write waits for
	// only runs the statements (and every attempt runs the same ones).
	progress, err := r.e.store.EncodeProgress(r.e.opts.Owner, r.ex, r.pending)
	var cancel bool
	if err == nil { // else refused by the encoding: nothing to retry
		cancel, err = r.commitProgress(ctx, progress, event, then)
	}
	if err != nil {
		r.e.log.Warn("cannot persist execution progress", r.logFields(ctx, zap.String("error.message", err.Error()))...)
		return err
	}
	r.pending, r.w.opened, r.w.events, r.w.resolved = nil, nil, nil, nil
	r.releaseHeld() // the calls whose steps this wrote
	if cancel && !r.ex.Status.Terminal() {
		r.ex.CancelRequested = true
		r.g.fail(outcome{kind: outcomeCancelled, reason: "cancelled"})
	}
	return nil
}

// commitProgress group-commits an encoded progress write with its waits,
// event and then, retrying transient errors with backoff while ctx lasts.
// It reports whether a cancel was requested.
func (r *run) commitProgress(ctx context.Context, progress store.Progress, event *audit.Event,
	then []func(store.Tx) error) (cancel bool, err error) {
	for attempt := range saveAttempts {
		err = r.e.store.Batch(ctx, func(tx store.Tx) error {
			if err := tx.SaveEncodedProgress(ctx, progress, &cancel); err != nil {
				return err
			}
			if err := r.saveWaits(ctx, tx); err != nil {
				return err
			}
			if event != nil {
				ev := *event // sealed anew on every attempt: the chain head may have moved
				if err := tx.AppendAudit(ctx, &ev); err != nil {
					return err
				}
			}
			for _, fn := range then {
				if err := fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		// A write whose answer was lost may have committed: sent again, its
		// rows would meet themselves. The attempt ends instead, and the run
		// goes on later from what is durable.
		if err == nil || !store.Transient(err) || errors.Is(err, store.ErrOutcomeUnknown) || attempt == saveAttempts-1 {
			return cancel, err
		}
		select {
		case <-r.e.clock.After(saveBackoff << attempt): // the database may be restarting
		case <-ctx.Done():
			return cancel, err
		}
	}
	return cancel, err
}
