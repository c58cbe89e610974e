package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/plan"
	"flowker/internal/store"
	"flowker/internal/telemetry"
)

// run is the driver of one attempt at one execution: it loads, persists,
// starts calls and finishes; the graph decides. One goroutine at a time
// drives it (calls.go says when that goroutine changes); calls on their
// own goroutines read only the snapshot they were given, r.e and r.id,
// and report back on a channel with values they own. A run waiting only
// for provider slots is shelved (shelf.go): ex, g and w are dropped and
// read back from the store when its turn comes.
type run struct {
	e          *Engine
	id         uuid.UUID // never change: calls read them
	workflowID uuid.UUID
	ex         *flow.Execution
	g          *graph
	pending    []flow.Step // recorded, not yet persisted
	resumed    bool        // read back from the store (woken, rescued, retried), not handed over new
	w          waitState
	calls      outstanding

	// The attempt: set by start, kept while shelved.
	base      context.Context // runOne's: Cancel and the hand-back end it
	ctx       context.Context // base with the span and the execution deadline; nil while shelved
	span      trace.Span
	started   time.Time
	deadline  time.Time
	stopTimer context.CancelFunc
	shelf     shelf
	end       func(verdict) // what the engine does once the attempt is over
	closed    bool
	results   *store.ExecutionResults // the terminal write's read back, for synchronous callers
	view      *store.CatalogView      // filled by the write before the next calls, for their lookups (startCalls)
	cause     trace.SpanContext       // the request that retried or woke it, linked from its span
}

type nodeResult struct {
	node *plan.Node
	step flow.Step
	out  any
}

// runOne starts driving an execution this process leased, on the
// goroutine the dispatcher started for it. The attempt ends — perhaps on
// another goroutine, after waiting for a provider slot — when it finishes,
// is handed back, or fails transiently (then it runs again here later). A
// panic fails that execution, never the process.
func (e *Engine) runOne(loopCtx context.Context, id uuid.UUID) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(loopCtx))
	driven, as, ok := e.drive(loopCtx, id, cancel)
	if !ok { // stopping while another run of it went on here: Stop releases it
		cancel(nil)
		e.inFlight.Add(-1)
		e.freePlace()
		return
	}
	// end outlives the load (a shelved run keeps it): it holds the dispatch
	// number only, not what the run took over (the handed-over input, which
	// the run lets go once used: 10,000 runs held 38 MB more with it).
	dispatch := as.dispatch
	var r *run
	end := func(v verdict) {
		if v == verdictRetry {
			e.retryLater(id)
		} else {
			e.finished(id, dispatch, r.answer())
		}
		driven()
		cancel(nil)
		e.inFlight.Add(-1)
		e.freePlace()
	}
	v, suspended := e.guard(ctx, id, func() (verdict, bool) {
		var err error
		if r, err = e.load(ctx, id, as.fresh, as.isNew); err != nil {
			e.log.Warn("cannot load execution; retrying later", zap.String("operation", "command.execution.execute"),
				zap.String("execution.id", id.String()), zap.String("error.message", err.Error()))
			return verdictRetry, false
		}
		if r == nil {
			return verdictDone, false
		}
		r.base, r.end, r.view, r.cause = ctx, end, as.view, as.cause
		return r.start()
	})
	if suspended {
		return // the run's next driver ends it
	}
	if r != nil {
		r.close()
	}
	end(v)
}

// guard runs drive; a panic fails the execution from its persisted state.
func (e *Engine) guard(ctx context.Context, id uuid.UUID, drive func() (verdict, bool)) (v verdict, suspended bool) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("execution panicked; failing it", zap.String("operation", "command.execution.execute"),
				zap.String("execution.id", id.String()), zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			// Not cut short by the execution's deadline: the failure must be written.
			v, suspended = e.failUnrunnable(context.WithoutCancel(ctx), id, fmt.Sprintf("internal error, execution stopped: %v", p)), false
		}
	}()
	return drive()
}

// load reads what a run needs. A revision that cannot run (its row is
// gone, its secrets no longer open, it no longer compiles) is permanent:
// the run fails at once with the reason. A store error is transient: the
// caller retries later.
func (e *Engine) load(ctx context.Context, id uuid.UUID, ex *flow.Execution, isNew bool) (*run, error) {
	var steps []flow.Step
	var openErr error // the stored input no longer opens: permanent
	if ex == nil {    // recovered, rescued or retried: read its state back
		var err error
		if ex, err = e.store.GetExecution(ctx, id); err != nil {
			if errors.Is(err, flow.ErrExecutionNotFound) {
				return nil, nil
			}
			return nil, err
		}
		if ex.Status.Terminal() || ex.LeaseOwner != e.opts.Owner {
			return nil, nil
		}
		dropUnused(ex)
		if steps, err = e.store.ListSteps(ctx, id); err != nil {
			return nil, err
		}
		// The input is stored with its secrets sealed (as configurations
		// are), for this execution only; a handed-over execution arrives in
		// plaintext already. Both read the same: the client's input as sent.
		if input, err := e.box.OpenInput(ex.ID, ex.Input); err == nil {
			ex.Input = input
		} else {
			openErr = err
		}
	}
	p, err := e.plan(ctx, ex.WorkflowID, ex.WorkflowRevision)
	if err != nil && store.Transient(err) {
		return nil, err
	}
	r := e.newRun(ex, p, steps)
	r.resumed = !isNew
	if err != nil {
		r.g.fail(outcome{kind: outcomeFailed,
			reason: fmt.Sprintf("workflow revision %d cannot run: %v", ex.WorkflowRevision, err)})
	} else if openErr != nil {
		r.g.fail(outcome{kind: outcomeFailed, reason: "the execution input cannot be opened: " + openErr.Error()})
	}
	return r, nil
}

var emptyPlan = &plan.Plan{Nodes: map[string]*plan.Node{}}

func (e *Engine) newRun(ex *flow.Execution, p *plan.Plan, steps []flow.Step) *run {
	if p == nil {
		p = emptyPlan
	}
	return &run{e: e, id: ex.ID, workflowID: ex.WorkflowID, ex: ex, g: newGraph(p, ex, steps, e.now, e.executionVars(p, ex.ID)),
		w: waitState{parked: map[string]*plan.Node{}}}
}

// failUnrunnable ends an execution that cannot be driven (it panicked)
// as failed with reason, from its persisted state.
func (e *Engine) failUnrunnable(ctx context.Context, id uuid.UUID, reason string) verdict {
	ex, err := e.store.GetExecution(ctx, id)
	switch {
	case errors.Is(err, flow.ErrExecutionNotFound):
		return verdictDone
	case err != nil:
		return verdictRetry
	case ex.Status.Terminal() || ex.LeaseOwner != e.opts.Owner:
		return verdictDone
	}
	r := e.newRun(ex, nil, nil)
	r.g.fail(outcome{kind: outcomeFailed, reason: storableText(reason)})
	return r.finish(ctx)
}

// start begins the attempt — its span, log line and deadline — and
// drives it.
func (r *run) start() (verdict, bool) {
	e := r.e
	parent := telemetry.ContextFromCarrier(r.base, map[string]string{"traceparent": r.ex.TraceParent,
		"tracestate": r.ex.TraceState, "baggage": r.ex.Baggage})
	ctx, span := e.tracer.Start(parent, "command.execution.execute", trace.WithAttributes(
		attribute.String("execution.id", r.ex.ID.String()), attribute.String("workflow.id", r.ex.WorkflowID.String())),
		trace.WithLinks(causeLinks(r.cause)...))
	r.span, r.started = span, time.Now()
	if b := baggage.FromContext(parent); b.Len() > 0 { // the caller's, sent on with every call
		r.base = baggage.ContextWithBaggage(r.base, b)
	}
	// Resumed, not "has steps": a run woken at a wait that was its first
	// node has none, and must not be counted or timed as a new start.
	msg := "Starting workflow execution"
	if r.resumed {
		msg = "Resuming workflow execution"
	} else {
		e.metrics.ExecutionStarted(ctx, r.ex.WorkflowID.String())
	}
	r.logInfo(ctx, msg)

	r.deadline = r.ex.StartedAt.Add(e.opts.ExecutionTimeout)
	if r.resumed {
		// A run woken after a review, callback or timer (or retried, or
		// rescued) has the full budget from now: waiting is not work, and
		// what remained of the first deadline would count the wait.
		r.deadline = e.clock.Now().Add(e.opts.ExecutionTimeout)
	}
	r.calls.wake = make(chan struct{}, 1)
	r.begin()
	return r.drive()
}

// begin sets the attempt's context up and walks the graph from the
// trigger (again, after a shelf: the persisted steps replayed).
func (r *run) begin() {
	r.ctx, r.stopTimer = context.WithDeadlineCause(trace.ContextWithSpan(r.base, r.span), r.deadline, errTimeout)
	if r.ex.CancelRequested { // requested while no worker had it
		r.g.fail(outcome{kind: outcomeCancelled, reason: "cancelled"})
	}
	if r.g.failure.none() {
		r.ex.TotalSteps = r.g.totalSteps()
		r.g.begin(r.ex.TriggerNodeID)
	}
}

// drive is the coordinator loop. It returns the attempt's verdict, or
// suspended: the run waits for provider slots only, and a poke resumes it
// on another goroutine.
func (r *run) drive() (verdict, bool) {
	ctx := r.ctx
	for {
		r.pending = append(r.pending, r.g.takeRecorded()...)
		if len(r.g.arrived) > 0 && r.g.failure.none() && context.Cause(ctx) == nil {
			if err := r.arrive(ctx); err != nil {
				if v, stop := r.saveFailed(ctx, err); stop {
					return v, false
				}
			}
			continue // resolving a wait may have made nodes ready
		}
		if len(r.g.ready) > 0 && r.g.failure.none() && context.Cause(ctx) == nil {
			// Persist what was decided before starting calls that depend on it
			// (nothing to persist right after a fresh start: the row is durable).
			if len(r.pending) > 0 || len(r.w.opened) > 0 { // a wait reached is shown (a review in its inbox) before calls that may be slow
				view := store.NewCatalogView() // the catalog for the calls' lookups, read with the write
				if err := r.save(ctx, nil, func(tx store.Tx) error { return tx.ReadCatalogView(ctx, view) }); err != nil {
					if v, stop := r.saveFailed(ctx, err); stop {
						return v, false // running calls report into the buffer, unread
					}
					continue
				}
				r.view = view
			}
			if r.g.failure.none() { // the save may have seen a cancel requested elsewhere
				r.queueCalls(r.g.takeReady())
			}
		}
		if len(r.g.ready) == 0 {
			r.releaseShelved() // what a shelved run waited for and no longer needs
		}
		if res, ran := r.startCalls(ctx); ran {
			r.g.complete(res.node, res.step, res.out)
			continue
		}
		outstanding := r.calls.inFlight + len(r.calls.waiting)
		if outstanding > 0 && (len(r.w.opened) > 0 || len(r.w.resolved) > 0) && r.g.failure.none() && context.Cause(ctx) == nil {
			// A wait reached beside calls under way, with no node to start, is
			// written now — a review shown in its inbox while its deadline
			// runs, a timer armed — not when the calls end. (With nothing
			// under way the park writes it.)
			r.pending = append(r.pending, r.g.takeRecorded()...)
			if err := r.save(ctx, nil); err != nil {
				if v, stop := r.saveFailed(ctx, err); stop {
					return v, false
				}
			}
			continue
		}
		if outstanding == 0 && len(r.w.parked) > 0 && r.g.failure.none() && context.Cause(ctx) == nil {
			parked, err := r.park(ctx)
			switch {
			case err != nil:
				if v, stop := r.saveFailed(ctx, err); stop {
					return v, false
				}
			case parked:
				r.ex.Status = flow.ExecWaiting
				r.logInfo(ctx, "Workflow execution waiting", zap.Int("waits", len(r.w.parked)))
				return verdictDone, false
			}
			continue
		}
		if outstanding == 0 {
			v := r.finish(ctx)
			if v == verdictDone && r.ex.Status.Terminal() {
				r.finished(ctx)
			}
			return v, false
		}
		switch res, got := r.await(ctx); got {
		case awaitResult:
			r.g.complete(res.node, res.step, res.out)
		case awaitSlots:
			// Only slots are awaited: what was decided is written first, so
			// the run can be shelved and rebuilt from the store.
			r.pending = append(r.pending, r.g.takeRecorded()...)
			if len(r.pending) > 0 || len(r.w.opened) > 0 || len(r.w.resolved) > 0 {
				if err := r.save(ctx, nil); err != nil {
					if v, stop := r.saveFailed(ctx, err); stop {
						return v, false
					}
				}
				continue
			}
			r.shelve()
			return verdictDone, true
		case awaitDone:
			if errors.Is(context.Cause(ctx), errHandedBack) {
				return verdictDone, false // resumed from its last persisted step by the next owner
			}
			// Cancelled or timed out: no call starts any more; running calls
			// see the same context and come back as failures; collect them.
			r.withdrawCalls()
			for ; r.calls.inFlight > 0; r.calls.inFlight-- {
				res := <-r.calls.results
				r.g.complete(res.node, res.step, res.out)
			}
		case awaitPoked: // startCalls looks at the tickets again
		}
	}
}

// close ends the attempt's own resources once its verdict is known
// (also after a panic); closing twice does nothing.
func (r *run) close() {
	if r.closed {
		return
	}
	r.closed = true
	r.endCalls()
	if r.stopTimer != nil {
		r.stopTimer()
	}
	if r.span != nil {
		r.span.End()
	}
}

// logInfo logs at info level with the run's identity; the fields are
// built only when the line is written (a run keeps no logger of its own:
// thousands of runs are held at once).
func (r *run) logInfo(ctx context.Context, msg string, fields ...zap.Field) {
	if ce := r.e.log.Check(zap.InfoLevel, msg); ce != nil {
		ce.Write(r.logFields(ctx, fields...)...)
	}
}

func (r *run) logFields(ctx context.Context, fields ...zap.Field) []zap.Field {
	return append(append([]zap.Field{zap.String("workflow.id", r.workflowID.String()),
		zap.String("execution.id", r.id.String()), zap.String("operation", "command.execution.execute")},
		telemetry.Trace(ctx)...), fields...)
}

var errTimeout = errors.New("execution timed out")

// finish writes the terminal state together with the last steps.
func (r *run) finish(ctx context.Context) verdict {
	if errors.Is(context.Cause(ctx), errHandedBack) {
		return verdictDone // resumed from its last persisted step by the next owner
	}
	if errors.Is(context.Cause(ctx), errCancelled) && !r.ex.CancelRequested && !r.cancelStored(ctx) {
		return verdictRetry // not this run's cancel: it runs on from what is durable
	}
	o := r.g.failure
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errCancelled) || r.ex.CancelRequested:
		o = outcome{kind: outcomeCancelled, reason: "cancelled"}
	case o.none() && errors.Is(cause, errTimeout):
		o = outcome{kind: outcomeTimedOut,
			reason: fmt.Sprintf("execution timeout: not finished within %s", r.e.opts.ExecutionTimeout)}
	}
	r.pending = append(r.pending, r.g.takeRecorded()...)
	now := r.e.now()
	r.ex.Status, r.ex.ErrorMessage, r.ex.CompletedAt = o.status(), o.reason, &now
	if o.none() {
		r.ex.Output = r.g.finalOutput()
	}
	event := r.auditEvent(ctx, now)
	// The terminal write must not inherit an expired or cancelled context:
	// the reference lost exactly this write on timeout.
	ctx = context.WithoutCancel(ctx)
	then := []func(store.Tx) error{r.closeWaits}
	var back *store.ExecutionResults
	if r.e.waited(r.ex.ID) { // a synchronous caller's answer, read with the write where that is free
		back = new(store.ExecutionResults)
		then = append(then, func(tx store.Tx) error { return tx.ReadBackExecution(ctx, r.ex.ID, back) })
	}
	err := r.save(ctx, event, then...)
	if err == nil && back != nil && back.Execution != nil {
		r.results = back
	}
	if err != nil && !errors.Is(err, store.ErrLeaseLost) && !store.Transient(err) {
		// The store refused what the steps hold: record the failure without it.
		r.ex.Status, r.ex.Output = flow.ExecFailed, nil
		r.ex.ErrorMessage = storableText("progress could not be stored: " + err.Error())
		stripPayloads(r.pending)
		err = r.save(ctx, r.auditEvent(ctx, now))
	}
	if err == nil {
		return verdictDone
	}
	r.ex.Status = flow.ExecRunning // not terminal until written
	if errors.Is(err, store.ErrLeaseLost) {
		return verdictDone
	}
	return verdictRetry
}

// cancelStored reports whether the cancel that stopped this run is still
// requested in the store. Engine.Cancel comes after the request's commit,
// and may come late: after the run it was meant for ended and a retry
// (which clears the request) started this one. Unsure (the read failed),
// it says no: the run goes on later from what is durable, and a cancel
// still requested then ends it.
func (r *run) cancelStored(ctx context.Context) bool {
	ex, err := r.e.store.GetExecution(context.WithoutCancel(ctx), r.id)
	return err == nil && ex.CancelRequested
}

// answer is what the terminal write read back for synchronous
// callers, or nil.
func (r *run) answer() *store.ExecutionResults {
	if r == nil {
		return nil
	}
	return r.results
}

// finished reports a terminal state that was written.
func (r *run) finished(ctx context.Context) {
	if r.ex.Status != flow.ExecCompleted {
		r.span.SetStatus(codes.Error, r.ex.ErrorMessage)
	}
	r.e.metrics.ExecutionFinished(ctx, r.ex.WorkflowID.String(), string(r.ex.Status), time.Since(r.started))
	fields := []zap.Field{zap.String("status", string(r.ex.Status))}
	if r.ex.ErrorMessage != "" {
		fields = append(fields, zap.String("error.message", r.ex.ErrorMessage))
	}
	r.logInfo(ctx, "Workflow execution finished", fields...)
}

// auditEvent records how the execution ended; the engine is the actor.
func (r *run) auditEvent(ctx context.Context, now time.Time) *audit.Event {
	eventType, result := audit.ExecutionCompleted, "SUCCESS"
	meta := map[string]any{"workflow.id": r.ex.WorkflowID.String()}
	switch r.ex.Status {
	case flow.ExecFailed:
		eventType, result, meta["error"] = audit.ExecutionFailed, "FAILED", r.ex.ErrorMessage
	case flow.ExecCancelled:
		eventType = audit.ExecutionCancelled
	}
	// The worker's context carries no request: the actor is the system.
	return audit.NewEvent(ctx, flow.NewID(), now, eventType, "EXECUTE", result, "execution", r.ex.ID.String(), meta)
}

// causeLinks links a run's span to the request that dispatched it again,
// if there was one.
func causeLinks(cause trace.SpanContext) []trace.Link {
	if !cause.IsValid() {
		return nil
	}
	return []trace.Link{{SpanContext: cause}}
}
