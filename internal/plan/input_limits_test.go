package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

// What a defect hunt found the expression compiler accepting reaches a
// saved workflow as the 400 of its kind: chained macros that take seconds
// to check (FLK-0105, on a node's condition and an edge's), a transform
// writing an index after a wildcard (FLK-0142). A node named True is the
// node in a condition.
func TestDefinitionInputLimits(t *testing.T) {
	chain := "[1]" + strings.Repeat(".map(x, {1: x})", 100) + " == []"
	conditional := func(cond string) flow.Definition {
		return waitDef(flow.Node{ID: "True", Type: flow.NodeConditional, Data: map[string]any{"condition": cond}})
	}
	_, err := Compile(conditional(chain))
	require.ErrorContains(t, err, `node "True": invalid condition at line 1, column `)
	require.ErrorContains(t, err, `: macros (map, filter, all, exists, exists_one) nested more than 8 deep`)
	require.Equal(t, "FLK-0105", flowCode(err))

	def := conditional(`True["approved"] == false`)
	def.Edges = append(def.Edges, flow.Edge{ID: "e1", Source: "True", Target: "a", Condition: chain})
	_, err = Compile(def)
	require.ErrorContains(t, err, `edge "e1": invalid condition`)
	require.Equal(t, "FLK-0105", flowCode(err))

	p, err := Compile(conditional(`True["approved"] == false`))
	require.NoError(t, err)
	ok, err := p.Nodes["True"].Condition.Eval(map[string]any{"True": map[string]any{"approved": false}})
	require.NoError(t, err)
	require.True(t, ok)

	_, err = Compile(waitDef(flow.Node{ID: "x", Type: flow.NodeExecutor, Data: map[string]any{"transforms": []any{
		map[string]any{"operation": "default", "spec": map[string]any{"rows[*].pad[9999]": 1.0}},
	}}}))
	require.ErrorContains(t, err, "an index after a wildcard [*] cannot be written")
	require.Equal(t, "FLK-0142", flowCode(err))
}

func flowCode(err error) string {
	var fe *flow.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return ""
}
