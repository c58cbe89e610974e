package engine

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
)

// Shelving. A run whose only business is waiting for provider slots
// (slots.go) keeps neither a goroutine nor its decoded state: once what it
// decided is written, it drops its execution, graph and waits and keeps
// only what its attempt needs to go on — its tickets (with their places
// in the queues), the span, the start time and the deadline. When a
// ticket is granted, or the run's context ends (cancel, hand-back,
// deadline), a new goroutine reads it back from the store exactly as a
// rescued execution is read (load: the persisted steps replayed) and
// carries on with the same attempt. So 10,000 executions waiting for one
// provider cost about 2 KB each, not their whole state.
//
// Everything the rebuilt run needs is durable when it is shelved: the
// driver saves what it recorded before shelving, and a ready node's call
// has not started (it records no step until it ran). The lease stays
// this process's all along: the record stays queued here, so the
// heartbeat extends it and no rescuer takes it.

// shelf wakes a shelved run when its context ends; a granted ticket
// pokes it directly.
type shelf struct {
	stopCancelWake func() bool // the AfterFunc on the run's base context (cancel, hand-back)
	deadline       *time.Timer
}

// shelve drops what the store holds and marks the run idle: the next poke
// starts a goroutine that rebuilds it. The driving goroutine must return
// at once and not touch the run again.
func (r *run) shelve() {
	c := &r.calls
	for _, rc := range c.waiting {
		c.shelved = append(c.shelved, readyCall{node: rc.node, ticket: rc.ticket}) // plan nodes are shared: no copy
	}
	c.waiting, c.results = nil, nil // every result was read: inFlight is 0
	r.stopTimer()
	r.ctx, r.stopTimer = nil, nil
	r.ex, r.g, r.w, r.pending = nil, nil, waitState{}, nil
	// The deadline timer uses the wall clock, as the context deadline does.
	r.shelf = shelf{stopCancelWake: context.AfterFunc(r.base, r.poke),
		deadline: time.AfterFunc(time.Until(r.deadline), r.poke)}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.wake: // poked meanwhile (a grant, or the end of the context): rebuild at once
		go r.resume()
	default:
		c.idle = true
	}
}

// resume rebuilds a shelved run and drives it, on the goroutine a poke
// started; it ends the attempt unless the run is shelved again.
func (r *run) resume() {
	r.shelf.stopCancelWake()
	r.shelf.deadline.Stop()
	r.shelf = shelf{}
	c := &r.calls
	c.mu.Lock()
	select { // a poke that came with this one: the tickets say what it was
	case <-c.wake:
	default:
	}
	c.mu.Unlock()
	v, suspended := r.e.guard(r.base, r.id, r.reload)
	if suspended {
		return
	}
	r.close()
	r.end(v)
}

// reload reads the execution back and drives it on, keeping the attempt
// (deadline, span, start time, tickets).
func (r *run) reload() (verdict, bool) {
	if errors.Is(context.Cause(r.base), errHandedBack) {
		return verdictDone, false // the next owner resumes it from what is durable
	}
	fresh, err := r.readBack()
	switch {
	case errors.Is(context.Cause(r.base), errHandedBack):
		return verdictDone, false
	case err != nil:
		r.e.log.Warn("cannot read a shelved execution back; retrying later",
			r.logFields(r.base, zap.String("error.message", err.Error()))...)
		return verdictRetry, false
	case fresh == nil:
		return verdictDone, false // finished, or not ours any more
	}
	r.ex, r.g, r.w = fresh.ex, fresh.g, fresh.w
	r.begin()
	return r.drive()
}

// readBack loads the execution even when it was cancelled (it ends
// cancelled, which needs its state), but not past a hand-back, which
// Stop waits for.
func (r *run) readBack() (*run, error) {
	ctx, stop := context.WithCancel(context.WithoutCancel(r.base))
	defer stop()
	unwatch := context.AfterFunc(r.base, func() {
		if errors.Is(context.Cause(r.base), errHandedBack) {
			stop()
		}
	})
	defer unwatch()
	return r.e.load(ctx, r.id, nil, false)
}
