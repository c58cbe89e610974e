package engine

import (
	"context"
	"sync"

	"flowker/internal/plan"
)

// A run holds at most one goroutine. The goroutine driving it makes a
// call itself when that call is all the run waits for (the common,
// sequential case); only calls that run alongside others — parallel
// branches — get goroutines of their own. A run whose only business is
// waiting for slots at its targets (slots.go) holds no goroutine and
// little memory: it is shelved (shelf.go), and the grant of a ticket, or
// the end of the run's context (cancel, timeout, hand-back), starts a
// goroutine that rebuilds it.

// readyCall is an executor node the graph made ready, with the context
// snapshot and Idempotency-Key its call uses and its ticket at its target.
type readyCall struct {
	node   *plan.Node
	vars   map[string]any // copy-on-write: the call may keep it
	key    string
	ticket *slotTicket
}

// outstanding is what a run waits for from its providers. waiting,
// shelved, inFlight and results belong to the goroutine driving the run;
// wake, idle and ended are how other goroutines reach it, under mu.
type outstanding struct {
	waiting  []readyCall     // ticket queued, in the order the nodes became ready
	shelved  []readyCall     // the waiting calls of a shelved run: node and ticket only
	held     []*slotTicket   // slots of calls made on the driver, kept until their steps are written
	inFlight int             // calls on their own goroutines whose result is unread
	results  chan nodeResult // made with the first such call: a buffer for every node, so a call reports even after the driver stopped reading

	mu    sync.Mutex
	wake  chan struct{} // capacity 1: a ticket was granted, or the context ended
	idle  bool          // shelved, no goroutine drives the run: the next poke starts one
	ended bool          // the run is over: pokes do nothing
}

// queueCalls takes a ticket for each ready node — or, for a node a
// shelved run already waited for, keeps its ticket and its place in the
// queue. A ticket granted later pokes the run.
func (r *run) queueCalls(nodes []*plan.Node) {
	c := &r.calls
	for _, n := range nodes {
		vars, key := r.g.vars, r.g.keyFor(n.ID) // vars is copy-on-write: the call may keep it
		var ticket *slotTicket
		for i, sc := range c.shelved {
			if sc.node.ID == n.ID {
				ticket = sc.ticket
				c.shelved = append(c.shelved[:i], c.shelved[i+1:]...)
				break
			}
		}
		if ticket == nil {
			ticket = r.e.slots.take(targetKey(n), r.poke)
		}
		c.waiting = append(c.waiting, readyCall{node: n, vars: vars, key: key, ticket: ticket})
	}
}

// releaseShelved gives up the tickets a shelved run held for nodes that,
// rebuilt, it no longer calls (a cancel, or a failure, came meanwhile).
func (r *run) releaseShelved() {
	for _, sc := range r.calls.shelved {
		r.e.slots.release(sc.ticket)
	}
	r.calls.shelved = nil
}

// startCalls starts the waiting calls whose ticket was granted. When one
// is all the run waits for, it is made on this goroutine and its result
// returned; others each get a goroutine that reports on results. After a
// failure, or once the context ended, no call starts: the waiting ones are
// withdrawn (the nodes never ran, so they record no step).
func (r *run) startCalls(ctx context.Context) (nodeResult, bool) {
	c := &r.calls
	view := r.view // for the calls that start now only: see Options.CatalogViewMaxAge
	r.view = nil
	if len(c.waiting) == 0 {
		return nodeResult{}, false
	}
	if !r.g.failure.none() || context.Cause(ctx) != nil {
		r.withdrawCalls()
		return nodeResult{}, false
	}
	var granted []readyCall
	queued := c.waiting[:0]
	for _, rc := range c.waiting {
		if r.e.slots.granted(rc.ticket) {
			granted = append(granted, rc)
		} else {
			queued = append(queued, rc)
		}
	}
	clear(c.waiting[len(queued):]) // no stale references to started calls
	c.waiting = queued
	if view != nil && view.FilledWithin(r.e.opts.CatalogViewMaxAge) {
		ctx = view.Context(ctx)
	}
	if len(granted) == 1 && c.inFlight == 0 && len(c.waiting) == 0 {
		// The slot is kept until the step is written (releaseHeld): with a
		// slow database, calls wait for slots (shelved, cheap) instead of
		// finished calls piling up in memory, each on a goroutine, waiting
		// for their writes.
		rc := granted[0]
		c.held = append(c.held, rc.ticket)
		return r.runExecutor(ctx, rc.node, rc.vars, rc.key), true
	}
	if len(granted) > 0 && c.results == nil {
		c.results = make(chan nodeResult, len(r.g.plan.Nodes))
	}
	for _, rc := range granted {
		c.inFlight++
		go func() { c.results <- r.makeCall(ctx, rc) }()
	}
	return nodeResult{}, false
}

// makeCall runs one executor node on its own goroutine and gives its
// slot back as soon as the call is over: the driver may have stopped
// reading (a run handed back), and the slot must not wait for it.
func (r *run) makeCall(ctx context.Context, rc readyCall) nodeResult {
	defer r.e.slots.release(rc.ticket)
	return r.runExecutor(ctx, rc.node, rc.vars, rc.key)
}

// releaseHeld gives back the slots kept for calls whose steps are now
// written (or that will never be: the run is over).
func (r *run) releaseHeld() {
	for _, t := range r.calls.held {
		r.e.slots.release(t)
	}
	r.calls.held = nil
}

// withdrawCalls gives up every waiting call's ticket.
func (r *run) withdrawCalls() {
	for _, rc := range r.calls.waiting {
		r.e.slots.release(rc.ticket)
	}
	r.calls.waiting = nil
	r.releaseShelved()
}

// awaitOutcome is what await saw.
type awaitOutcome int8

const (
	awaitResult awaitOutcome = iota // a call on its own goroutine reported
	awaitPoked                      // a ticket may have been granted: look again
	awaitDone                       // the run's context ended
	awaitSlots                      // nothing in flight: only slots are awaited
)

// await waits for the next thing the run waits for; with no call in
// flight it returns at once (the driver shelves the run).
func (r *run) await(ctx context.Context) (nodeResult, awaitOutcome) {
	c := &r.calls
	if c.inFlight == 0 {
		return nodeResult{}, awaitSlots
	}
	select {
	case res := <-c.results:
		c.inFlight--
		return res, awaitResult
	case <-c.wake:
		return nodeResult{}, awaitPoked
	case <-ctx.Done():
		return nodeResult{}, awaitDone
	}
}

// poke tells the run that a ticket was granted or its context ended: the
// goroutine driving it looks again, or, if the run is shelved, one is
// started to rebuild it.
// Safe from any goroutine; it never blocks.
func (r *run) poke() {
	c := &r.calls
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ended:
	case c.idle:
		c.idle = false
		go r.resume()
	default:
		select { // under mu, so that suspend sees it
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// endCalls marks the run over: pending tickets are withdrawn and later
// pokes do nothing. Calls still in flight report into the buffer, unread.
func (r *run) endCalls() {
	r.withdrawCalls()
	r.releaseHeld()
	c := &r.calls
	c.mu.Lock()
	c.ended = true
	c.mu.Unlock()
}
