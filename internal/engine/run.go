package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/plan"
	"flowker/internal/store"
	"flowker/internal/telemetry"
)

// run is the driver of one attempt at one execution: it loads, persists,
// starts calls and finishes; the graph decides. A single coordinator
// goroutine owns it; executor calls run concurrently and report back on a
// channel with values they own.
type run struct {
	e       *Engine
	ex      *flow.Execution
	g       *graph
	pending []flow.Step // recorded, not yet persisted
	resumed bool        // read back from the store (woken, rescued, retried), not handed over new
	w       waitState
	log     *zap.Logger
}

type nodeResult struct {
	node *plan.Node
	step flow.Step
	out  any
}

// runOne drives an execution this process leased until it finishes, is
// handed back, or fails transiently (then it runs again here later). A
// panic fails that execution, never the process.
func (e *Engine) runOne(loopCtx context.Context, id uuid.UUID) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(loopCtx))
	defer cancel(nil)
	fresh, dispatch := e.running(id, cancel)
	if e.tryRun(ctx, id, fresh) == verdictRetry {
		e.retryLater(id)
		return
	}
	e.finished(id, dispatch)
}

func (e *Engine) tryRun(ctx context.Context, id uuid.UUID, fresh *flow.Execution) (v verdict) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("execution panicked; failing it", zap.String("operation", "command.execution.execute"),
				zap.String("execution.id", id.String()), zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			v = e.failUnrunnable(ctx, id, fmt.Sprintf("internal error, execution stopped: %v", p))
		}
	}()
	r, err := e.load(ctx, id, fresh)
	if err != nil {
		e.log.Warn("cannot load execution; retrying later", zap.String("operation", "command.execution.execute"),
			zap.String("execution.id", id.String()), zap.String("error.message", err.Error()))
		return verdictRetry
	}
	if r == nil {
		return verdictDone
	}
	return r.execute(ctx)
}

// load reads what a run needs. A revision that cannot run (its row is
// gone, its secrets no longer open, it no longer compiles) is permanent:
// the run fails at once with the reason. A store error is transient: the
// caller retries later.
func (e *Engine) load(ctx context.Context, id uuid.UUID, ex *flow.Execution) (*run, error) {
	fresh := ex
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
		if steps, err = e.store.ListSteps(ctx, id); err != nil {
			return nil, err
		}
		// The input is stored with its secrets sealed (as configurations
		// are); a handed-over execution arrives in plaintext already.
		if input, err := e.box.Open(ex.Input, "input"); err == nil {
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
	r.resumed = fresh == nil
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
	return &run{e: e, ex: ex, g: newGraph(p, ex, steps, e.now, e.executionVars(p, ex.ID)),
		w:   waitState{parked: map[string]*plan.Node{}},
		log: e.log.With(zap.String("workflow.id", ex.WorkflowID.String()), zap.String("execution.id", ex.ID.String()))}
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

// execute is the coordinator loop.
func (r *run) execute(ctx context.Context) verdict {
	e := r.e
	parent := propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": r.ex.TraceParent})
	ctx, span := e.tracer.Start(parent, "command.execution.execute", trace.WithAttributes(
		attribute.String("execution.id", r.ex.ID.String()), attribute.String("workflow.id", r.ex.WorkflowID.String())))
	defer span.End()
	started := time.Now()
	// Resumed, not "has steps": a run woken at a wait that was its first
	// node has none, and must not be counted or timed as a new start.
	resumed := r.resumed
	msg := "Starting workflow execution"
	if resumed {
		msg = "Resuming workflow execution"
	} else {
		e.metrics.ExecutionStarted(ctx, r.ex.WorkflowID.String())
	}
	r.log.Info(msg, append(telemetry.Trace(ctx), zap.String("operation", "command.execution.execute"))...)

	deadline := r.ex.StartedAt.Add(e.opts.ExecutionTimeout)
	if resumed {
		// A run woken after a review, callback or timer (or retried, or
		// rescued) has the full budget from now: waiting is not work, and
		// what remained of the first deadline would count the wait.
		deadline = e.clock.Now().Add(e.opts.ExecutionTimeout)
	}
	ctx, cancelTimeout := context.WithDeadlineCause(ctx, deadline, errTimeout)
	defer cancelTimeout()

	if r.ex.CancelRequested { // requested while no worker had it
		r.g.fail(outcome{kind: outcomeCancelled, reason: "cancelled"})
	}
	if r.g.failure.none() {
		r.ex.TotalSteps = r.g.totalSteps()
		r.g.begin(r.ex.TriggerNodeID)
	}
	// Each node runs at most once per attempt: a buffer for every node lets
	// calls report back even after the loop has stopped reading.
	results := make(chan nodeResult, len(r.g.plan.Nodes))
	inFlight := 0
	for {
		r.pending = append(r.pending, r.g.takeRecorded()...)
		if len(r.g.arrived) > 0 && r.g.failure.none() && context.Cause(ctx) == nil {
			if err := r.arrive(ctx); err != nil {
				if v, stop := r.saveFailed(ctx, err); stop {
					return v
				}
			}
			continue // resolving a wait may have made nodes ready
		}
		if len(r.g.ready) > 0 && r.g.failure.none() && context.Cause(ctx) == nil {
			// Persist what was decided before starting calls that depend on it
			// (nothing to persist right after a fresh start: the row is durable).
			if len(r.pending) > 0 || len(r.w.opened) > 0 { // a wait reached is shown (a review in its inbox) before calls that may be slow
				if err := r.save(ctx, nil); err != nil {
					if v, stop := r.saveFailed(ctx, err); stop {
						return v // running calls report into the buffer, unread
					}
					continue
				}
			}
			if r.g.failure.none() { // the save may have seen a cancel requested elsewhere
				for _, n := range r.g.takeReady() {
					inFlight++
					vars, key := r.g.vars, r.g.keyFor(n.ID) // vars is copy-on-write: the call may keep it
					go func() { results <- r.runExecutor(ctx, n, vars, key) }()
				}
			}
		}
		if inFlight == 0 && len(r.w.parked) > 0 && r.g.failure.none() && context.Cause(ctx) == nil {
			parked, err := r.park(ctx)
			switch {
			case err != nil:
				if v, stop := r.saveFailed(ctx, err); stop {
					return v
				}
			case parked:
				r.ex.Status = flow.ExecWaiting
				r.log.Info("Workflow execution waiting", append(telemetry.Trace(ctx),
					zap.String("operation", "command.execution.execute"), zap.Int("waits", len(r.w.parked)))...)
				return verdictDone
			}
			continue
		}
		if inFlight == 0 {
			v := r.finish(ctx)
			if v == verdictDone && r.ex.Status.Terminal() {
				r.finished(ctx, span, started)
			}
			return v
		}
		select {
		case res := <-results:
			inFlight--
			r.g.complete(res.node, res.step, res.out)
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errHandedBack) {
				return verdictDone // resumed from its last persisted step by the next owner
			}
			// Cancelled or timed out: running calls see the same context
			// and come back as failures; keep collecting them.
			for ; inFlight > 0; inFlight-- {
				res := <-results
				r.g.complete(res.node, res.step, res.out)
			}
		}
	}
}

var errTimeout = errors.New("execution timed out")

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

// finish writes the terminal state together with the last steps.
func (r *run) finish(ctx context.Context) verdict {
	if errors.Is(context.Cause(ctx), errHandedBack) {
		return verdictDone // resumed from its last persisted step by the next owner
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
	err := r.save(ctx, event, r.closeWaits)
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

// finished reports a terminal state that was written.
func (r *run) finished(ctx context.Context, span trace.Span, started time.Time) {
	if r.ex.Status != flow.ExecCompleted {
		span.SetStatus(codes.Error, r.ex.ErrorMessage)
	}
	r.e.metrics.ExecutionFinished(ctx, r.ex.WorkflowID.String(), string(r.ex.Status), time.Since(started))
	fields := append(telemetry.Trace(ctx), zap.String("operation", "command.execution.execute"),
		zap.String("status", string(r.ex.Status)))
	if r.ex.ErrorMessage != "" {
		fields = append(fields, zap.String("error.message", r.ex.ErrorMessage))
	}
	r.log.Info("Workflow execution finished", fields...)
}

// auditEvent records how the execution ended; the engine is the actor.
func (r *run) auditEvent(ctx context.Context, now time.Time) *audit.Event {
	eventType, result := "EXECUTION_COMPLETED", "SUCCESS"
	meta := map[string]any{"workflow.id": r.ex.WorkflowID.String()}
	switch r.ex.Status {
	case flow.ExecFailed:
		eventType, result, meta["error"] = "EXECUTION_FAILED", "FAILED", r.ex.ErrorMessage
	case flow.ExecCancelled:
		eventType = "EXECUTION_CANCELLED"
	}
	// The worker's context carries no request: the actor is the system.
	return audit.NewEvent(ctx, uuid.New(), now, eventType, "EXECUTE", result, "execution", r.ex.ID.String(), meta)
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
	snapshot, steps := *r.ex, r.pending
	var cancel bool
	var err error
	for attempt := range saveAttempts {
		err = r.e.store.Batch(ctx, func(tx store.Tx) error {
			var err error
			if cancel, err = tx.SaveProgress(ctx, r.e.opts.Owner, &snapshot, steps); err != nil {
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
		if err == nil || !store.Transient(err) || attempt == saveAttempts-1 {
			break
		}
		select {
		case <-r.e.clock.After(saveBackoff << attempt): // the database may be restarting
		case <-ctx.Done():
			return err
		}
	}
	if err != nil {
		r.log.Warn("cannot persist execution progress", zap.String("operation", "command.execution.execute"),
			zap.String("error.message", err.Error()))
		return err
	}
	r.pending, r.w.opened, r.w.events, r.w.resolved = nil, nil, nil, nil
	if cancel && !r.ex.Status.Terminal() {
		r.ex.CancelRequested = true
		r.g.fail(outcome{kind: outcomeCancelled, reason: "cancelled"})
	}
	return nil
}
