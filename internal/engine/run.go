package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
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

// nodeState is where a node is in this attempt of the execution.
type nodeState int8

const (
	waiting   nodeState = iota
	readyNode           // inputs settled, waiting for the save that precedes its call
	runningNode
	done
)

// run is one attempt at finishing one execution. A single coordinator
// goroutine owns it; executor nodes run concurrently and report back.
type run struct {
	e             *Engine
	ex            *flow.Execution
	plan          *plan.Plan
	scope         map[string]bool // nodes reachable from the trigger that fired
	state         map[string]nodeState
	status        map[string]flow.StepStatus
	taken         map[*plan.Edge]int8 // +1 taken, -1 not taken, 0 undecided
	vars          map[string]any      // the execution context
	nodes         map[string]any      // node id → output, also vars["nodes"]
	failures      map[string]int      // earlier failed attempts per node (keys idempotency)
	cond          map[string]bool     // conditional node results
	pending       []flow.Step         // recorded, not yet persisted
	ready         []*plan.Node        // executor nodes whose inputs are settled
	failed        string              // first failure, "node x: why"
	leaseLost     bool                // another worker owns the execution now
	terminalEvent *audit.Event        // written with the terminal state
	log           *zap.Logger
}

type nodeResult struct {
	node *plan.Node
	step flow.Step
	out  any
}

// runOne loads an execution this process leased and drives it to the end,
// or until it is handed back.
func (e *Engine) runOne(loopCtx context.Context, id uuid.UUID) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(loopCtx))
	defer cancel(nil)
	e.mu.Lock()
	e.running[id] = cancel
	e.mu.Unlock()
	defer e.finished(id)

	r, err := e.load(ctx, id)
	if err != nil {
		e.log.Error("cannot load execution", zap.String("operation", "command.execution.execute"),
			zap.String("execution.id", id.String()), zap.String("error.message", err.Error()))
		return // the lease expires and the rescuer retries
	}
	if r != nil {
		r.execute(ctx)
	}
}

func (e *Engine) load(ctx context.Context, id uuid.UUID) (*run, error) {
	var steps []flow.Step
	ex := e.takeFresh(id)
	if ex == nil { // recovered, rescued or retried: read its state back
		var err error
		if ex, err = e.store.GetExecution(ctx, id); err != nil {
			return nil, err
		}
		if ex.Status.Terminal() || ex.LeaseOwner != e.opts.Owner {
			return nil, nil
		}
		if steps, err = e.store.ListSteps(ctx, id); err != nil {
			return nil, err
		}
	}
	p, err := e.plan(ctx, ex.WorkflowID, ex.WorkflowRevision)
	r := &run{e: e, ex: ex, plan: p, state: map[string]nodeState{}, status: map[string]flow.StepStatus{},
		taken: map[*plan.Edge]int8{}, nodes: map[string]any{}, failures: map[string]int{}, cond: map[string]bool{},
		log: e.log.With(zap.String("workflow.id", ex.WorkflowID.String()), zap.String("execution.id", id.String()))}
	r.vars = map[string]any{"workflow": ex.Input, "nodes": r.nodes}
	if err != nil {
		r.failed = "workflow revision cannot run: " + err.Error()
		return r, nil
	}
	r.scope = p.Reachable(ex.TriggerNodeID)
	r.replay(steps)
	if ex.CancelRequested { // requested while its last worker was gone
		r.failed = "cancelled"
	}
	return r, nil
}

// replay rebuilds the state from persisted steps: the latest row of each
// node wins; failed rows only count attempts (a retry runs them again).
func (r *run) replay(steps []flow.Step) {
	latest := map[string]flow.Step{}
	for _, st := range steps {
		r.ex.CurrentStep = max(r.ex.CurrentStep, st.Number)
		if st.Status == flow.StepFailed {
			r.failures[st.NodeID]++
		}
		latest[st.NodeID] = st
	}
	for _, st := range steps { // in step order, so outputs apply as they happened
		if latest[st.NodeID].Number != st.Number || st.Status == flow.StepFailed {
			continue
		}
		r.state[st.NodeID], r.status[st.NodeID] = done, st.Status
		if st.Status == flow.StepCompleted {
			r.setOutput(r.plan.Nodes[st.NodeID], st.Output)
			if out, ok := st.Output.(map[string]any); ok {
				r.cond[st.NodeID], _ = out["result"].(bool)
			}
		}
	}
}

func (r *run) setOutput(n *plan.Node, out any) {
	if n == nil {
		return
	}
	switch n.Type {
	case flow.NodeExecutor:
		r.nodes[n.ID] = out
		r.vars[n.ID] = out
	case flow.NodeAction:
		if m, ok := out.(map[string]any); ok && n.OutputTmpl != nil {
			r.vars["output"] = m
		}
	}
}

// execute is the coordinator loop.
func (r *run) execute(ctx context.Context) {
	e := r.e
	parent := propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": r.ex.TraceParent})
	ctx, span := e.tracer.Start(parent, "command.execution.execute", trace.WithAttributes(
		attribute.String("execution.id", r.ex.ID.String()), attribute.String("workflow.id", r.ex.WorkflowID.String())))
	defer span.End()
	started := time.Now()
	msg := "Starting workflow execution"
	if r.ex.CurrentStep > 0 {
		msg = "Resuming workflow execution"
	}
	r.log.Info(msg, append(telemetry.Trace(ctx), zap.String("operation", "command.execution.execute"))...)
	if r.ex.CurrentStep == 0 {
		e.metrics.ExecutionStarted(ctx, r.ex.WorkflowID.String())
	}

	deadline := r.ex.StartedAt.Add(e.opts.ExecutionTimeout)
	if len(r.failures) > 0 && deadline.Before(time.Now()) {
		deadline = time.Now().Add(e.opts.ExecutionTimeout) // a retry requested later gets a full budget
	}
	ctx, cancelTimeout := context.WithDeadlineCause(ctx, deadline, errTimeout)
	defer cancelTimeout()

	if trigger := r.plan.Nodes[r.ex.TriggerNodeID]; r.failed == "" && trigger != nil {
		r.ex.TotalSteps = r.countSteps()
		r.state[trigger.ID], r.status[trigger.ID] = done, flow.StepCompleted
		r.settle(trigger)
	} else if r.failed == "" {
		r.failed = fmt.Sprintf("trigger node %q is not in workflow revision %d", r.ex.TriggerNodeID, r.ex.WorkflowRevision)
	}
	results := make(chan nodeResult)
	inFlight := 0
	for {
		if r.failed == "" && context.Cause(ctx) == nil && len(r.ready) > 0 {
			// Persist what was decided before starting calls that depend on it
			// (nothing to persist right after a fresh start: the row is durable).
			if len(r.pending) > 0 && !r.save(ctx) {
				r.abandon(inFlight, results)
				r.e.retryLater(r.ex.ID, r.leaseLost)
				return
			}
			if r.failed != "" { // the save saw a cancel requested through another process
				r.ready = r.ready[:0]
				continue
			}
			for _, n := range r.ready {
				r.state[n.ID] = runningNode
				inFlight++
				vars := maps.Clone(r.vars)
				go func() { results <- r.runExecutor(ctx, n, vars) }()
			}
			r.ready = r.ready[:0]
		}
		if inFlight == 0 {
			r.finish(ctx, span, started)
			return
		}
		select {
		case res := <-results:
			inFlight--
			r.record(res)
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errHandedBack) {
				r.abandon(inFlight, results)
				return
			}
			// Cancelled or timed out: running calls see the same context
			// and come back as failures; keep collecting them.
			for inFlight > 0 {
				r.record(<-results)
				inFlight--
			}
		}
	}
}

var errTimeout = errors.New("execution timed out")

// record applies a finished executor node and settles what follows.
func (r *run) record(res nodeResult) {
	n := res.node
	r.state[n.ID] = done
	r.status[n.ID] = res.step.Status
	r.addStep(res.step)
	if res.step.Status != flow.StepCompleted {
		if r.failed == "" {
			r.failed = fmt.Sprintf("node %q: %s", n.ID, res.step.ErrorMessage)
		}
		return
	}
	r.setOutput(n, res.out)
	if r.failed == "" {
		r.settle(n)
	}
}

func (r *run) addStep(st flow.Step) {
	r.ex.CurrentStep++
	st.Number = r.ex.CurrentStep
	st.ExecutionID = r.ex.ID
	r.pending = append(r.pending, st)
}

// settle decides the outgoing edges of a node that is done, then every
// node whose incoming edges are all decided: executor nodes become ready,
// pure nodes (conditional, action) run inline, unreachable ones are skipped.
func (r *run) settle(from *plan.Node) {
	queue := []*plan.Node{from}
	walked := map[string]bool{from.ID: true}
	for len(queue) > 0 && r.failed == "" {
		n := queue[0]
		queue = queue[1:]
		for _, edge := range n.Out {
			if !r.scope[edge.To.ID] {
				continue
			}
			if r.taken[edge] == 0 {
				r.taken[edge] = r.decide(n, edge)
			}
			next := edge.To
			if r.state[next.ID] == done && !walked[next.ID] {
				// Finished in an earlier attempt: walk through it again.
				walked[next.ID] = true
				queue = append(queue, next)
				continue
			}
			if r.state[next.ID] == waiting && r.settled(next) {
				if r.anyTaken(next) {
					if r.start(next) {
						queue = append(queue, next)
					}
				} else {
					r.skip(next)
					queue = append(queue, next)
				}
			}
		}
	}
}

// decide says whether edge is taken once its source is done.
func (r *run) decide(from *plan.Node, edge *plan.Edge) int8 {
	if r.status[from.ID] == flow.StepSkipped {
		return -1
	}
	if from.Type == flow.NodeConditional {
		if edge.SourceHandle != strconv.FormatBool(r.cond[from.ID]) {
			return -1
		}
	}
	if edge.Condition != nil {
		ok, err := edge.Condition.Eval(r.vars)
		if err != nil {
			r.failed = fmt.Sprintf("edge %q: %v", edge.ID, err)
			return -1
		}
		if !ok {
			return -1
		}
	}
	return 1
}

func (r *run) settled(n *plan.Node) bool {
	for _, in := range n.In {
		if r.scope[in.From.ID] && r.taken[in] == 0 {
			return false
		}
	}
	return true
}

func (r *run) anyTaken(n *plan.Node) bool {
	for _, in := range n.In {
		if r.taken[in] > 0 {
			return true
		}
	}
	return false
}

func (r *run) skip(n *plan.Node) {
	r.state[n.ID], r.status[n.ID] = done, flow.StepSkipped
	now := r.e.now()
	r.addStep(flow.Step{NodeID: n.ID, Name: stepName(n), Status: flow.StepSkipped, StartedAt: now, CompletedAt: now})
}

// start begins a node whose inputs are settled. Executor nodes wait for the
// next save; pure nodes run now. It reports whether n is done.
func (r *run) start(n *plan.Node) bool {
	now := r.e.now()
	switch n.Type {
	case flow.NodeExecutor:
		r.state[n.ID] = readyNode
		r.ready = append(r.ready, n)
		return false
	case flow.NodeConditional:
		ok, err := n.Condition.Eval(r.vars)
		st := flow.Step{NodeID: n.ID, Name: stepName(n), Input: map[string]any{"condition": n.Condition.Source()},
			StartedAt: now, CompletedAt: r.e.now(), Status: flow.StepCompleted,
			Output: map[string]any{"condition": n.Condition.Source(), "result": ok, "branchTaken": strconv.FormatBool(ok)}}
		if err != nil {
			st.Status, st.Output, st.ErrorMessage = flow.StepFailed, nil, err.Error()
			r.failed = fmt.Sprintf("node %q: %v", n.ID, err)
		}
		r.cond[n.ID] = ok
		r.state[n.ID], r.status[n.ID] = done, st.Status
		r.addStep(st)
		return err == nil
	case flow.NodeAction:
		st := flow.Step{NodeID: n.ID, Name: stepName(n), StartedAt: now, Status: flow.StepCompleted, Output: n.Data}
		if n.OutputTmpl != nil {
			out, err := n.OutputTmpl.Render(r.vars)
			if err != nil {
				st.Status, st.ErrorMessage = flow.StepFailed, err.Error()
				r.failed = fmt.Sprintf("node %q: %v", n.ID, err)
			} else {
				st.Output = out
				r.vars["output"] = out
			}
		}
		st.CompletedAt = r.e.now()
		r.state[n.ID], r.status[n.ID] = done, st.Status
		r.addStep(st)
		return st.Status == flow.StepCompleted
	default: // a further trigger inside the graph: nothing to do
		r.state[n.ID], r.status[n.ID] = done, flow.StepCompleted
		return true
	}
}

func stepName(n *plan.Node) string {
	if n.Name != "" {
		return n.Name
	}
	return string(n.Type) + "_" + n.ID
}

// countSteps is the number of steps this run will record at most: every
// non-trigger node reachable from the trigger that fired.
func (r *run) countSteps() int {
	total := 0
	for id := range r.scope {
		if n := r.plan.Nodes[id]; n != nil && n.Type != flow.NodeTrigger {
			total++
		}
	}
	return max(total, r.ex.CurrentStep)
}

// finish writes the terminal state together with the last steps.
func (r *run) finish(ctx context.Context, span trace.Span, started time.Time) {
	cause := context.Cause(ctx)
	now := r.e.now()
	switch {
	case errors.Is(cause, errCancelled) || r.ex.CancelRequested:
		r.ex.Status, r.ex.ErrorMessage = flow.ExecCancelled, "cancelled"
	case r.failed != "":
		r.ex.Status, r.ex.ErrorMessage = flow.ExecFailed, r.failed
	case errors.Is(cause, errTimeout):
		r.ex.Status = flow.ExecFailed
		r.ex.ErrorMessage = fmt.Sprintf("execution timeout: not finished within %s", r.e.opts.ExecutionTimeout)
	default:
		r.ex.Status, r.ex.Output = flow.ExecCompleted, r.finalOutput()
	}
	r.ex.CompletedAt = &now
	r.terminalEvent = r.auditEvent(ctx, now)
	// The terminal write must not inherit an expired or cancelled context:
	// the reference lost exactly this write on timeout.
	if !r.save(context.WithoutCancel(ctx)) {
		r.e.retryLater(r.ex.ID, r.leaseLost)
		return
	}
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

// finalOutput is what set_output actions wrote or, without them, the
// outputs of the executor nodes that completed — never the whole context,
// which holds the input and webhook headers.
func (r *run) finalOutput() map[string]any {
	if out, ok := r.vars["output"].(map[string]any); ok {
		return out
	}
	return maps.Clone(r.nodes)
}

// save persists pending steps and the execution's progress, group-committed
// with other executions' writes; it reports whether the run may go on.
func (r *run) save(ctx context.Context) bool {
	r.ex.UpdatedAt = r.e.now()
	until := r.e.LeaseUntil(r.ex.UpdatedAt)
	r.ex.LeaseExpiresAt = &until
	snapshot, steps := *r.ex, r.pending
	var cancel bool
	var err error
	for attempt := range 5 {
		err = r.e.store.Batch(ctx, func(tx store.Tx) error {
			var err error
			cancel, err = tx.SaveProgress(ctx, r.e.opts.Owner, &snapshot, steps)
			if err != nil || r.terminalEvent == nil {
				return err
			}
			ev := *r.terminalEvent // sealed anew on every attempt: the chain head may have moved
			return tx.AppendAudit(ctx, &ev)
		})
		if err == nil || errors.Is(err, store.ErrLeaseLost) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(100<<attempt) * time.Millisecond) // the database may be restarting
	}
	if err != nil {
		r.leaseLost = errors.Is(err, store.ErrLeaseLost)
		r.log.Warn("cannot persist execution progress; leaving it to be resumed",
			zap.String("operation", "command.execution.execute"), zap.String("error.message", err.Error()))
		return false
	}
	r.pending = nil
	if cancel && !r.ex.Status.Terminal() {
		r.ex.CancelRequested = true
		r.failed = "cancelled"
	}
	return true
}

// abandon stops without a terminal write: the lease lapses (or was
// released) and another worker resumes from the last persisted step.
func (r *run) abandon(inFlight int, results chan nodeResult) {
	go func() { // let running calls end without blocking on a reader
		for range inFlight {
			<-results
		}
	}()
}
