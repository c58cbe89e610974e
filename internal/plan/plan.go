// Package plan compiles a workflow definition into what the engine runs:
// the graph with its edges both ways, compiled conditions, mappings and
// output templates. The service compiles at save and activation so a broken
// expression is a 400 naming the node; the engine compiles (once per
// revision) to run. Pure: it imports only flow and expr.
package plan

import (
	"strings"

	"flowker/internal/expr"
	"flowker/internal/flow"
)

// EngineKeys are node-data keys the engine reads itself; the rest of an
// executor node's data are literal request fields.
var EngineKeys = []string{"executorId", "providerConfigId", "executorConfigId", "endpointName",
	"inputMapping", "outputMapping", "transforms", "method", "path", "timeout"}

// Plan is a compiled, immutable workflow revision; safe to share.
type Plan struct {
	Name  string
	Nodes map[string]*Node
	Order []*Node // the definition's node order
	// Callbacks are the wait_for_callback nodes, each with its own
	// callback URL in every execution's context.
	Callbacks []*Node
}

// Node is a compiled node with its edges.
type Node struct {
	flow.Node
	In, Out    []*Edge
	Condition  *expr.Condition // conditional nodes
	InputMap   *expr.Transform // executor: inputMapping, else transforms (nil: none)
	OutputMap  *expr.Transform // executor: outputMapping (nil: the response envelope)
	OutputTmpl *Template       // action set_output
	Wait       *Wait           // review, wait_for_callback, delay
}

// Edge is a compiled edge.
type Edge struct {
	flow.Edge
	From, To  *Node
	Condition *expr.Condition // optional edge condition
}

// Compile compiles def; errors are 400s naming the node or edge.
func Compile(def flow.Definition) (*Plan, error) {
	p := &Plan{Name: def.Name, Nodes: make(map[string]*Node, len(def.Nodes))}
	ids := make([]string, len(def.Nodes))
	for i, n := range def.Nodes {
		ids[i] = n.ID
	}
	for _, n := range def.Nodes {
		node := &Node{Node: n}
		if err := compileNode(node, ids); err != nil {
			return nil, err
		}
		p.Nodes[n.ID] = node
		p.Order = append(p.Order, node)
		if n.Type == flow.NodeWaitForCallback {
			p.Callbacks = append(p.Callbacks, node)
		}
	}
	for _, e := range def.Edges {
		edge := &Edge{Edge: e, From: p.Nodes[e.Source], To: p.Nodes[e.Target]}
		if edge.From == nil || edge.To == nil {
			return nil, flow.Invalidf("FLK-0115", "edge references non-existent node: edge %q", e.ID)
		}
		if strings.TrimSpace(e.Condition) != "" {
			c, err := expr.CompileCondition(e.Condition, ids)
			if err != nil {
				return nil, conditionError("edge", e.ID, err)
			}
			edge.Condition = c
		}
		edge.From.Out = append(edge.From.Out, edge)
		edge.To.In = append(edge.To.In, edge)
	}
	if err := checkWaits(p); err != nil {
		return nil, err
	}
	return p, nil
}

func compileNode(n *Node, ids []string) error {
	switch n.Type {
	case flow.NodeConditional:
		src, _ := n.Data["condition"].(string)
		c, err := expr.CompileCondition(src, ids)
		if err != nil {
			return conditionError("node", n.ID, err)
		}
		n.Condition = c
	case flow.NodeExecutor:
		return compileMappings(n)
	case flow.NodeReview, flow.NodeWaitForCallback, flow.NodeDelay:
		return compileWait(n)
	case flow.NodeAction:
		if t, _ := n.Data["actionType"].(string); t == "set_output" {
			out, _ := n.Data["output"].(map[string]any)
			tmpl, err := CompileTemplate(out, ids)
			if err != nil {
				return flow.Invalidf("FLK-0143", "node %q: invalid output: %v", n.ID, err)
			}
			n.OutputTmpl = tmpl
		}
	}
	return nil
}

func compileMappings(n *Node) error {
	if raw, ok := n.Data["inputMapping"]; ok && raw != nil {
		m, err := expr.ParseMappings(raw)
		if err == nil && len(m) > 0 {
			n.InputMap, err = expr.CompileMappings(m)
		}
		if err != nil {
			return flow.Invalidf("FLK-0140", "node %q: invalid inputMapping: %v", n.ID, err)
		}
	}
	if raw, ok := n.Data["transforms"]; ok && raw != nil && n.InputMap == nil {
		ops, err := expr.ParseOperations(raw)
		if err == nil && len(ops) > 0 {
			n.InputMap, err = expr.CompileOperations(ops)
		}
		if err != nil {
			return flow.Invalidf("FLK-0142", "node %q: invalid transforms: %v", n.ID, err)
		}
	}
	if raw, ok := n.Data["outputMapping"]; ok && raw != nil {
		m, err := expr.ParseMappings(raw)
		if err == nil && len(m) > 0 {
			n.OutputMap, err = expr.CompileMappings(m)
		}
		if err != nil {
			return flow.Invalidf("FLK-0141", "node %q: invalid outputMapping: %v", n.ID, err)
		}
	}
	return nil
}

func conditionError(kind, id string, err error) error {
	if ce, ok := err.(*expr.CompileError); ok { //nolint:errorlint // CompileCondition returns it unwrapped
		return flow.Invalidf("FLK-0105", "%s %q: invalid condition at line %d, column %d: %s",
			kind, id, ce.Line, ce.Column, ce.Message)
	}
	return flow.Invalidf("FLK-0105", "%s %q: invalid condition: %v", kind, id, err)
}

// Reachable returns the nodes reachable from start (start included).
func (p *Plan) Reachable(start string) map[string]bool {
	seen := map[string]bool{start: true}
	queue := []string{start}
	for len(queue) > 0 {
		n := p.Nodes[queue[0]]
		queue = queue[1:]
		if n == nil {
			continue
		}
		for _, e := range n.Out {
			if !seen[e.To.ID] {
				seen[e.To.ID] = true
				queue = append(queue, e.To.ID)
			}
		}
	}
	return seen
}

// SignalNode returns the wait_for_callback node waiting for signal name.
func (p *Plan) SignalNode(name string) *Node {
	for _, n := range p.Callbacks {
		if n.Wait.Signal == name {
			return n
		}
	}
	return nil
}

// Triggers returns the trigger nodes in definition order.
func (p *Plan) Triggers() []*Node {
	var out []*Node
	for _, n := range p.Order {
		if n.Type == flow.NodeTrigger {
			out = append(out, n)
		}
	}
	return out
}
