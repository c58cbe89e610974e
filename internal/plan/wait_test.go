package plan

import (
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

func waitDef(n flow.Node, edges ...flow.Edge) flow.Definition {
	nodes := []flow.Node{{ID: "t", Type: flow.NodeTrigger}, n,
		{ID: "a", Type: flow.NodeAction, Data: map[string]any{"actionType": "log"}},
		{ID: "b", Type: flow.NodeAction, Data: map[string]any{"actionType": "log"}}}
	return flow.Definition{Name: "w", Nodes: nodes, Edges: append([]flow.Edge{{ID: "e0", Source: "t", Target: n.ID}}, edges...)}
}

func TestWaitNodesCompile(t *testing.T) {
	review := func(data map[string]any) flow.Node { return flow.Node{ID: "r", Type: flow.NodeReview, Data: data} }
	toA := func(handle string) flow.Edge {
		return flow.Edge{ID: "e1", Source: "r", Target: "a", SourceHandle: handle}
	}
	cases := []struct {
		name string
		def  flow.Definition
		want string // "" compiles
	}{
		{"review defaults", waitDef(review(nil), toA("approve"), flow.Edge{ID: "e2", Source: "r", Target: "b", SourceHandle: "reject"}), ""},
		{"review edge without a decision", waitDef(review(nil), toA("")), `edge "e1": sourceHandle "" of review node "r" must be one of its decisions`},
		{"review edge naming another decision", waitDef(review(nil), toA("escalate")), `must be one of its decisions [approve reject]`},
		{"custom decisions", waitDef(review(map[string]any{"decisions": []any{"approve", "escalate"}}), toA("escalate")), ""},
		{"duplicate decision", waitDef(review(map[string]any{"decisions": []any{"approve", "approve"}})), "must be a distinct name"},
		{"four-eyes without approve", waitDef(review(map[string]any{"decisions": []any{"ok", "no"}, "requiredApprovals": 2.0})), `requiredApprovals counts "approve" decisions`},
		{"too many approvals", waitDef(review(map[string]any{"requiredApprovals": 9.0})), "from 1 to 5"},
		{"deadline without default", waitDef(review(map[string]any{"deadline": "24h"})), "a deadline needs a defaultDecision"},
		{"default not a decision", waitDef(review(map[string]any{"deadline": "24h", "defaultDecision": "maybe"})), `defaultDecision "maybe" is not one of`},
		{"four-eyes approved by the deadline", waitDef(review(map[string]any{"requiredApprovals": 2.0, "deadline": "1h", "defaultDecision": "approve"})), "would bypass four-eyes"},
		{"one approval, approved by the deadline", waitDef(review(map[string]any{"deadline": "1h", "defaultDecision": "approve"}),
			toA("approve"), flow.Edge{ID: "e2", Source: "r", Target: "b", SourceHandle: "reject"}), ""},
		{"bad deadline", waitDef(review(map[string]any{"deadline": "tomorrow", "defaultDecision": "reject"})), "deadline must be a positive duration"},
		{"bad group", waitDef(review(map[string]any{"group": "a b"})), "group must be"},
		{"bad context", waitDef(review(map[string]any{"context": "amount"})), "invalid context"},
		{"delay needs one of duration and until", waitDef(flow.Node{ID: "d", Type: flow.NodeDelay}), "exactly one of duration"},
		{"delay with both", waitDef(flow.Node{ID: "d", Type: flow.NodeDelay, Data: map[string]any{"duration": "1m", "until": "workflow.at"}}), "exactly one of duration"},
		{"delay until", waitDef(flow.Node{ID: "d", Type: flow.NodeDelay, Data: map[string]any{"until": "workflow.at"}}), ""},
		{"callback timeout edge", waitDef(flow.Node{ID: "c", Type: flow.NodeWaitForCallback, Data: map[string]any{"timeout": "1h"}},
			flow.Edge{ID: "e1", Source: "c", Target: "a", SourceHandle: "timeout"}, flow.Edge{ID: "e2", Source: "c", Target: "b"}), ""},
		{"callback other handle", waitDef(flow.Node{ID: "c", Type: flow.NodeWaitForCallback},
			flow.Edge{ID: "e1", Source: "c", Target: "a", SourceHandle: "late"}), `must be "timeout" or empty`},
		{"callback timeout too long", waitDef(flow.Node{ID: "c", Type: flow.NodeWaitForCallback, Data: map[string]any{"timeout": "9000h"}}), "timeout must be a positive duration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.def)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, flow.KindInvalid, flow.KindOf(err))
		})
	}
}

func TestSignalNamesAreUnique(t *testing.T) {
	def := waitDef(flow.Node{ID: "c", Type: flow.NodeWaitForCallback, Data: map[string]any{"signal": "kyc"}})
	def.Nodes = append(def.Nodes, flow.Node{ID: "c2", Type: flow.NodeWaitForCallback, Data: map[string]any{"signal": "kyc"}})
	_, err := Compile(def)
	require.ErrorContains(t, err, `signal "kyc" is already the signal of node "c"`)
	p, err := Compile(waitDef(flow.Node{ID: "c", Type: flow.NodeWaitForCallback}))
	require.NoError(t, err)
	require.Equal(t, "c", p.SignalNode("c").ID, "the signal name defaults to the node id")
}
