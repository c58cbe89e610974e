package flow

import (
	"encoding/json"
	"regexp"
	"strings"
)

// Limits on a workflow definition. Lengths count bytes, as the reference does.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 500
	MaxNodes          = 100
	MaxEdges          = 200
	MaxIDLen          = 50
	MaxNodeNameLen    = 100
	MaxHandleLen      = 50
	MaxLabelLen       = 100
	MaxConditionLen   = 500
	MaxMetadataKeys   = 50
	MaxMetadataKeyLen = 100
	MaxMetadataValue  = 4096 // bytes of one value's JSON encoding
	MaxMetadataDepth  = 5
)

// ReservedNodeIDs are names of the execution context's own keys: the input
// (workflow), the set_output result (output), the map of node outputs
// (nodes) and the execution's own facts (execution: its id and callback
// URLs); a node with such an id could not be addressed in a condition.
var ReservedNodeIDs = map[string]bool{"workflow": true, "output": true, "nodes": true, "execution": true}

// idPattern restricts node and edge ids so they are safe in paths, logs and
// (hyphens aside) expressions.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidateDefinition checks what can be checked on a draft: names, lengths,
// counts, node and edge ids, types, references, and that the graph has no
// cycle. The first failure wins; each has its own code.
func ValidateDefinition(d *Definition) error {
	if err := ValidateName(d.Name); err != nil {
		return err
	}
	if len(d.Description) > MaxDescriptionLen {
		return Invalidf("FLK-0117", "description cannot exceed %d characters", MaxDescriptionLen)
	}
	if len(d.Nodes) > MaxNodes {
		return Invalidf("FLK-0113", "cannot exceed %d nodes", MaxNodes)
	}
	if len(d.Edges) > MaxEdges {
		return Invalidf("FLK-0114", "cannot exceed %d edges", MaxEdges)
	}
	if err := validateNodes(d.Nodes); err != nil {
		return err
	}
	if err := validateEdges(d.Nodes, d.Edges); err != nil {
		return err
	}
	if err := checkAcyclic(d.Nodes, d.Edges); err != nil {
		return err
	}
	return ValidateMetadata(d.Metadata)
}

// ValidateName applies the name rules shared by create, update and clone.
func ValidateName(name string) error {
	if strings.TrimSpace(name) == "" {
		return Invalidf("FLK-0110", "name is required")
	}
	if len(name) > MaxNameLen {
		return Invalidf("FLK-0111", "name cannot exceed %d characters", MaxNameLen)
	}
	return nil
}

// ValidateForActivation adds what a workflow needs to run: at least one
// node, at least one trigger, and every node reachable from a trigger.
func ValidateForActivation(d *Definition) error {
	if err := ValidateDefinition(d); err != nil {
		return err
	}
	if len(d.Nodes) == 0 {
		return Errorf(KindUnprocessable, "FLK-0112", "workflow must have at least one node to activate")
	}
	reached := map[string]bool{}
	var queue []string
	for _, n := range d.Nodes {
		if n.Type == NodeTrigger {
			reached[n.ID] = true
			queue = append(queue, n.ID)
		}
	}
	if len(queue) == 0 {
		return Errorf(KindUnprocessable, "FLK-0116", "workflow must have a trigger node to activate")
	}
	next := adjacency(d.Edges)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, t := range next[id] {
			if !reached[t] {
				reached[t] = true
				queue = append(queue, t)
			}
		}
	}
	for _, n := range d.Nodes {
		if !reached[n.ID] {
			return Invalidf("FLK-0119", "node %q is not reachable from any trigger", n.ID)
		}
	}
	return nil
}

func validateID(kind, id string, code string) error {
	if id == "" {
		return Invalidf(code, "%s id is required", kind)
	}
	if len(id) > MaxIDLen || !idPattern.MatchString(id) {
		return Invalidf(code, "%s id %q must be 1-%d characters of letters, digits, '_' or '-'", kind, id, MaxIDLen)
	}
	return nil
}

func validateNodes(nodes []Node) error {
	seen := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		if err := validateID("node", n.ID, "FLK-0120"); err != nil {
			return err
		}
		if seen[n.ID] {
			return Invalidf("FLK-0122", "duplicate node id %q", n.ID)
		}
		if ReservedNodeIDs[n.ID] {
			return Invalidf("FLK-0124", "node id %q is reserved: the execution context uses it", n.ID)
		}
		seen[n.ID] = true
		if !n.Type.Valid() {
			return Invalidf("FLK-0121", "node %q: type must be one of trigger, executor, conditional, action", n.ID)
		}
		if len(n.Name) > MaxNodeNameLen {
			return Invalidf("FLK-0123", "node %q: name cannot exceed %d characters", n.ID, MaxNodeNameLen)
		}
		if c, _ := n.Data["condition"].(string); n.Type == NodeConditional && len(c) > MaxConditionLen {
			return Invalidf("FLK-0125", "node %q: condition cannot exceed %d characters (as an edge's)", n.ID, MaxConditionLen)
		}
	}
	return nil
}

func validateEdges(nodes []Node, edges []Edge) error {
	types := make(map[string]NodeType, len(nodes))
	for _, n := range nodes {
		types[n.ID] = n.Type
	}
	seen := make(map[string]bool, len(edges))
	for _, e := range edges {
		if err := validateID("edge", e.ID, "FLK-0130"); err != nil {
			return err
		}
		if seen[e.ID] {
			return Invalidf("FLK-0133", "duplicate edge id %q", e.ID)
		}
		seen[e.ID] = true
		if e.Source == "" {
			return Invalidf("FLK-0131", "edge %q: source is required", e.ID)
		}
		if e.Target == "" {
			return Invalidf("FLK-0132", "edge %q: target is required", e.ID)
		}
		if _, ok := types[e.Source]; !ok {
			return Invalidf("FLK-0115", "edge references non-existent node: edge %q source %q", e.ID, e.Source)
		}
		tt, ok := types[e.Target]
		if !ok {
			return Invalidf("FLK-0115", "edge references non-existent node: edge %q target %q", e.ID, e.Target)
		}
		if tt == NodeTrigger {
			return Invalidf("FLK-0135", "edge %q: a trigger node (%q) cannot have incoming edges", e.ID, e.Target)
		}
		if len(e.SourceHandle) > MaxHandleLen || len(e.Label) > MaxLabelLen || len(e.Condition) > MaxConditionLen {
			return Invalidf("FLK-0134", "edge %q: sourceHandle ≤ %d, label ≤ %d and condition ≤ %d characters",
				e.ID, MaxHandleLen, MaxLabelLen, MaxConditionLen)
		}
	}
	return nil
}

func adjacency(edges []Edge) map[string][]string {
	next := make(map[string][]string, len(edges))
	for _, e := range edges {
		next[e.Source] = append(next[e.Source], e.Target)
	}
	return next
}

// checkAcyclic runs a depth-first search and reports the first cycle found
// as a path, so the user sees which edges to remove.
func checkAcyclic(nodes []Node, edges []Edge) error {
	const (
		unvisited = iota
		onPath
		done
	)
	next := adjacency(edges)
	state := make(map[string]int, len(nodes))
	var path []string
	var visit func(id string) []string
	visit = func(id string) []string {
		state[id] = onPath
		path = append(path, id)
		for _, t := range next[id] {
			switch state[t] {
			case onPath:
				for i, p := range path {
					if p == t {
						return append(append([]string{}, path[i:]...), t)
					}
				}
			case unvisited:
				if c := visit(t); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[id] = done
		return nil
	}
	for _, n := range nodes {
		if state[n.ID] == unvisited {
			if c := visit(n.ID); c != nil {
				return Invalidf("FLK-0118", "workflow graph has a cycle: %s", strings.Join(c, " → "))
			}
		}
	}
	return nil
}

// ValidateMetadata bounds free-form metadata so it cannot grow without limit.
func ValidateMetadata(m map[string]any) error {
	if len(m) > MaxMetadataKeys {
		return Invalidf(CodeMetadataEntries, "metadata cannot have more than %d entries", MaxMetadataKeys)
	}
	for k, v := range m {
		if k == "" || len(k) > MaxMetadataKeyLen {
			return Invalidf(CodeMetadataKey, "metadata key %q must be 1-%d characters", k, MaxMetadataKeyLen)
		}
		if depth(v) > MaxMetadataDepth {
			return Invalidf(CodeMetadataNesting, "metadata %q nests deeper than %d levels", k, MaxMetadataDepth)
		}
		if b, err := json.Marshal(v); err != nil || len(b) > MaxMetadataValue {
			return Invalidf(CodeMetadataValue, "metadata %q value cannot exceed %d bytes", k, MaxMetadataValue)
		}
	}
	return nil
}

func depth(v any) int {
	d := 0
	switch t := v.(type) {
	case map[string]any:
		for _, x := range t {
			d = max(d, depth(x))
		}
		return d + 1
	case []any:
		for _, x := range t {
			d = max(d, depth(x))
		}
		return d + 1
	}
	return 0
}
