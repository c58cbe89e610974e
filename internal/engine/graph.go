package engine

import (
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/plan"
)

// nodeState is where a node is in this attempt of the execution.
type nodeState int8

const (
	unreached nodeState = iota
	readyNode           // inputs settled: an executor waiting for the save that precedes its call, or a wait node
	runningNode
	done
)

// graph is the pure state of one attempt at an execution: which nodes are
// done, which edges were taken, and the execution context. It does no I/O:
// the driver (run) feeds it executor results, persists the steps it
// records and starts the executor nodes it makes ready. Only the driver's
// goroutine touches a graph.
type graph struct {
	plan   *plan.Plan
	execID uuid.UUID
	now    func() time.Time
	scope  map[string]bool // nodes reachable from the trigger that fired
	state  map[string]nodeState
	status map[string]flow.StepStatus
	taken  map[*plan.Edge]int8 // +1 taken, -1 not taken, 0 undecided
	cond   map[string]bool     // conditional node results
	handle map[string]string   // wait nodes: the sourceHandle their resolution takes
	keys   map[string]string   // executor node → Idempotency-Key of its next call

	// vars is the execution context. It is copy-on-write: a map reachable
	// from vars is never changed once built, so a snapshot handed to a call
	// (or kept in a step's input) stays valid while later nodes complete.
	vars map[string]any

	step     int          // number of the last recorded step
	recorded []flow.Step  // recorded, not yet taken by the driver
	ready    []*plan.Node // executor nodes to call
	arrived  []*plan.Node // wait nodes reached, for the driver to resolve or park
	failure  outcome      // the first failure; zero while none
}

// newGraph rebuilds the state of ex from its persisted steps.
// execVars is the context's "execution" entry (Engine.executionVars).
func newGraph(p *plan.Plan, ex *flow.Execution, steps []flow.Step, now func() time.Time, execVars map[string]any) *graph {
	g := &graph{plan: p, execID: ex.ID, now: now, scope: p.Reachable(ex.TriggerNodeID),
		state: map[string]nodeState{}, status: map[string]flow.StepStatus{}, taken: map[*plan.Edge]int8{},
		cond: map[string]bool{}, handle: map[string]string{}, keys: map[string]string{},
		vars: map[string]any{"workflow": ex.Input, "nodes": map[string]any{}, "execution": execVars}}
	g.replay(steps)
	return g
}

// replay applies persisted steps: the latest row of each node wins; failed
// rows only decide the next Idempotency-Key (a retry runs the node again).
func (g *graph) replay(steps []flow.Step) {
	latest := map[string]int{}
	for _, st := range steps {
		g.step = max(g.step, st.Number)
		latest[st.NodeID] = st.Number
		if st.Status == flow.StepFailed {
			g.keys[st.NodeID] = nextKey(g.keyFor(st.NodeID), st, g.execID)
		}
	}
	for _, st := range steps { // in step order, so outputs apply as they happened
		if latest[st.NodeID] != st.Number || st.Status == flow.StepFailed {
			continue
		}
		g.state[st.NodeID], g.status[st.NodeID] = done, st.Status
		if st.Status == flow.StepCompleted {
			g.setOutput(g.plan.Nodes[st.NodeID], st.Output)
			if out, ok := st.Output.(map[string]any); ok {
				g.cond[st.NodeID], _ = out["result"].(bool)
			}
			g.handle[st.NodeID], _ = st.CallDetails["handle"].(string)
		}
	}
}

// retried reports whether an earlier attempt of this execution failed.
func (g *graph) retried() bool { return len(g.keys) > 0 }

// keyFor is the Idempotency-Key the next call of an executor node sends.
func (g *graph) keyFor(nodeID string) string {
	if k, ok := g.keys[nodeID]; ok {
		return k
	}
	return g.execID.String() + "/" + nodeID
}

// nextKey decides the key after a failed step. A call whose outcome is
// unknown (timeout, transport error, 5xx, cancelled or aborted mid-call) or
// that succeeded at the provider (2xx, then failed in Flowker) is sent
// again with the same key, so the provider can deduplicate it. Only a
// definitive refusal (a 4xx that is not 408, 409, 425 or 429) gets a new
// key: the provider did nothing, and must judge the new request afresh.
func nextKey(current string, st flow.Step, execID uuid.UUID) string {
	if k, ok := st.CallDetails["idempotencyKey"].(string); ok && k != "" {
		current = k
	}
	code, _ := st.CallDetails["statusCode"].(float64) // JSON numbers, as persisted
	if c, ok := st.CallDetails["statusCode"].(int); ok {
		code = float64(c)
	}
	if !refused(int(code)) {
		return current
	}
	return fmt.Sprintf("%s/%s/retry-%d", execID, st.NodeID, st.Number)
}

func refused(code int) bool {
	switch code {
	case 408, 409, 425, 429:
		return false
	}
	return code >= 400 && code < 500
}

// begin starts the walk at the trigger that fired.
func (g *graph) begin(triggerID string) {
	trigger := g.plan.Nodes[triggerID]
	if trigger == nil {
		g.fail(outcome{kind: outcomeFailed, reason: fmt.Sprintf("trigger node %q is not in the workflow revision", triggerID)})
		return
	}
	g.state[trigger.ID], g.status[trigger.ID] = done, flow.StepCompleted
	g.settle(trigger)
}

// totalSteps is the number of steps this run records at most: every
// non-trigger node reachable from the trigger that fired.
func (g *graph) totalSteps() int {
	total := 0
	for id := range g.scope {
		if n := g.plan.Nodes[id]; n != nil && n.Type != flow.NodeTrigger {
			total++
		}
	}
	return max(total, g.step)
}

// complete applies a finished executor node and settles what follows.
func (g *graph) complete(n *plan.Node, st flow.Step, out any) {
	g.state[n.ID], g.status[n.ID] = done, st.Status
	g.record(st)
	if st.Status != flow.StepCompleted {
		g.fail(outcome{kind: outcomeFailed, reason: fmt.Sprintf("node %q: %s", n.ID, st.ErrorMessage)})
		return
	}
	g.setOutput(n, out)
	if g.failure.none() {
		g.settle(n)
	}
}

// pass applies a wait node's resolution: its step, output and the
// handle of the edges it takes.
func (g *graph) pass(n *plan.Node, st flow.Step, handle string) {
	g.handle[n.ID] = handle
	g.complete(n, st, st.Output)
}

// takeArrived returns the wait nodes reached since the last call.
func (g *graph) takeArrived() []*plan.Node {
	arrived := g.arrived
	g.arrived = nil
	return arrived
}

// fail keeps the first failure.
func (g *graph) fail(o outcome) {
	if g.failure.none() {
		g.failure = o
	}
}

// takeReady returns the executor nodes ready to call, marking them running.
func (g *graph) takeReady() []*plan.Node {
	ready := g.ready
	g.ready = nil
	for _, n := range ready {
		g.state[n.ID] = runningNode
	}
	return ready
}

// takeRecorded returns the steps recorded since the last call.
func (g *graph) takeRecorded() []flow.Step {
	steps := g.recorded
	g.recorded = nil
	return steps
}

func (g *graph) record(st flow.Step) {
	g.step++
	st.Number, st.ExecutionID = g.step, g.execID
	g.recorded = append(g.recorded, st)
}

// setOutput publishes a node's output in the context, copy-on-write.
func (g *graph) setOutput(n *plan.Node, out any) {
	if n == nil {
		return
	}
	vars := maps.Clone(g.vars)
	switch n.Type {
	case flow.NodeExecutor, flow.NodeReview, flow.NodeWaitForCallback, flow.NodeDelay:
		nodes := maps.Clone(g.vars["nodes"].(map[string]any))
		nodes[n.ID] = out
		vars["nodes"], vars[n.ID] = nodes, out
	case flow.NodeAction:
		m, ok := out.(map[string]any)
		if !ok || n.OutputTmpl == nil {
			return
		}
		vars["output"] = m
	default:
		return
	}
	g.vars = vars
}

// settle decides the outgoing edges of a node that is done, then every
// node whose incoming edges are all decided: executor nodes become ready,
// pure nodes (conditional, action) run inline, unreachable ones are skipped.
func (g *graph) settle(from *plan.Node) {
	queue := []*plan.Node{from}
	walked := map[string]bool{from.ID: true}
	for len(queue) > 0 && g.failure.none() {
		n := queue[0]
		queue = queue[1:]
		for _, edge := range n.Out {
			if !g.scope[edge.To.ID] {
				continue
			}
			if g.taken[edge] == 0 {
				g.taken[edge] = g.decide(n, edge)
			}
			next := edge.To
			if g.state[next.ID] == done && !walked[next.ID] {
				// Finished in an earlier attempt: walk through it again.
				walked[next.ID] = true
				queue = append(queue, next)
				continue
			}
			if g.state[next.ID] != unreached || !g.settled(next) {
				continue
			}
			if !g.anyTaken(next) {
				g.skip(next)
				queue = append(queue, next)
			} else if g.start(next) {
				queue = append(queue, next)
			}
		}
	}
}

// decide says whether edge is taken once its source is done.
func (g *graph) decide(from *plan.Node, edge *plan.Edge) int8 {
	if g.status[from.ID] == flow.StepSkipped {
		return -1
	}
	if from.Type == flow.NodeConditional && edge.SourceHandle != strconv.FormatBool(g.cond[from.ID]) {
		return -1
	}
	if from.Type == flow.NodeReview && edge.SourceHandle != g.handle[from.ID] {
		return -1 // the edge of another decision
	}
	if from.Type == flow.NodeWaitForCallback && (edge.SourceHandle == flow.TimeoutHandle) != (g.handle[from.ID] == flow.TimeoutHandle) {
		return -1
	}
	if edge.Condition != nil {
		ok, err := edge.Condition.Eval(g.vars)
		if err != nil {
			g.fail(outcome{kind: outcomeFailed, reason: fmt.Sprintf("edge %q: %v", edge.ID, err)})
			return -1
		}
		if !ok {
			return -1
		}
	}
	return 1
}

func (g *graph) settled(n *plan.Node) bool {
	for _, in := range n.In {
		if g.scope[in.From.ID] && g.taken[in] == 0 {
			return false
		}
	}
	return true
}

func (g *graph) anyTaken(n *plan.Node) bool {
	for _, in := range n.In {
		if g.taken[in] > 0 {
			return true
		}
	}
	return false
}

func (g *graph) skip(n *plan.Node) {
	g.state[n.ID], g.status[n.ID] = done, flow.StepSkipped
	now := g.now()
	g.record(flow.Step{NodeID: n.ID, Name: stepName(n), Status: flow.StepSkipped, StartedAt: now, CompletedAt: now})
}

// start begins a node whose inputs are settled. Executor nodes wait for the
// driver; pure nodes run now. It reports whether n is done.
func (g *graph) start(n *plan.Node) bool {
	now := g.now()
	st := flow.Step{NodeID: n.ID, Name: stepName(n), StartedAt: now, Status: flow.StepCompleted}
	switch n.Type {
	case flow.NodeExecutor:
		g.state[n.ID] = readyNode
		g.ready = append(g.ready, n)
		return false
	case flow.NodeReview, flow.NodeWaitForCallback, flow.NodeDelay:
		g.state[n.ID] = readyNode
		g.arrived = append(g.arrived, n)
		return false
	case flow.NodeConditional:
		ok, err := n.Condition.Eval(g.vars)
		st.Input = map[string]any{"condition": n.Condition.Source()}
		st.Output = map[string]any{"condition": n.Condition.Source(), "result": ok, "branchTaken": strconv.FormatBool(ok)}
		if err != nil {
			st.Status, st.Output, st.ErrorMessage = flow.StepFailed, nil, stepError(err)
		}
		g.cond[n.ID] = ok
	case flow.NodeAction:
		st.Output = n.Data
		if n.OutputTmpl != nil {
			out, err := n.OutputTmpl.Render(g.vars)
			if err != nil {
				st.Status, st.ErrorMessage = flow.StepFailed, stepError(err)
			} else {
				// The node's data, as the reference records an action, with
				// its output rendered (docs/engine.md): a copy, since the
				// plan's data is shared by every run of the workflow.
				data := maps.Clone(n.Data)
				if out != nil { // nil: data.output is no object, and stays as written
					data["output"] = out
				}
				st.Output = data
				g.setOutput(n, out)
			}
		}
	default: // a further trigger inside the graph: nothing to do
		g.state[n.ID], g.status[n.ID] = done, flow.StepCompleted
		return true
	}
	st.CompletedAt = g.now()
	g.state[n.ID], g.status[n.ID] = done, st.Status
	g.record(st)
	if st.Status != flow.StepCompleted {
		g.fail(outcome{kind: outcomeFailed, reason: fmt.Sprintf("node %q: %s", n.ID, st.ErrorMessage)})
		return false
	}
	return true
}

// finalOutput is what set_output actions wrote or, without them, the
// outputs of the executor nodes that completed — never the whole context,
// which holds the input and webhook headers.
func (g *graph) finalOutput() map[string]any {
	if out, ok := g.vars["output"].(map[string]any); ok {
		return out
	}
	return g.vars["nodes"].(map[string]any)
}

func stepName(n *plan.Node) string {
	if n.Name != "" {
		return n.Name
	}
	return string(n.Type) + "_" + n.ID
}
