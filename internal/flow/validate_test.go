package flow_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

func node(id string, t flow.NodeType) flow.Node { return flow.Node{ID: id, Type: t} }

func edge(id, from, to string) flow.Edge { return flow.Edge{ID: id, Source: from, Target: to} }

// valid is trigger → check → (approve | reject), a diamond-free branch.
func valid() flow.Definition {
	return flow.Definition{
		Name: "kyc",
		Nodes: []flow.Node{node("trigger", flow.NodeTrigger), node("check", flow.NodeConditional),
			node("approve", flow.NodeAction), node("reject", flow.NodeAction)},
		Edges: []flow.Edge{edge("e1", "trigger", "check"), {ID: "e2", Source: "check", Target: "approve", SourceHandle: "true"},
			{ID: "e3", Source: "check", Target: "reject", SourceHandle: "false"}},
	}
}

func TestValidateDefinition(t *testing.T) {
	t.Parallel()
	many := func(n int, mk func(i int) flow.Node) []flow.Node {
		out := make([]flow.Node, n)
		for i := range out {
			out[i] = mk(i)
		}
		return out
	}
	tests := []struct {
		name   string
		modify func(d *flow.Definition)
		code   string // "" means valid
	}{
		{"valid", func(*flow.Definition) {}, ""},
		{"empty graph is a valid draft", func(d *flow.Definition) { d.Nodes, d.Edges = nil, nil }, ""},
		{"name missing", func(d *flow.Definition) { d.Name = "" }, "FLK-0110"},
		{"name blank", func(d *flow.Definition) { d.Name = "   " }, "FLK-0110"},
		{"name 100 bytes", func(d *flow.Definition) { d.Name = strings.Repeat("a", 100) }, ""},
		{"name 101 bytes", func(d *flow.Definition) { d.Name = strings.Repeat("a", 101) }, "FLK-0111"},
		{"name counts bytes", func(d *flow.Definition) { d.Name = "é" + strings.Repeat("a", 99) }, "FLK-0111"},
		{"description 501", func(d *flow.Definition) { d.Description = strings.Repeat("d", 501) }, "FLK-0117"},
		{"101 nodes", func(d *flow.Definition) {
			d.Nodes = many(101, func(i int) flow.Node { return node(strings.Repeat("n", i%40+1)+"x", flow.NodeAction) })
			d.Edges = nil
		}, "FLK-0113"},
		{"201 edges", func(d *flow.Definition) { d.Edges = make([]flow.Edge, 201) }, "FLK-0114"},
		{"node id missing", func(d *flow.Definition) { d.Nodes[1].ID = "" }, "FLK-0120"},
		{"node id charset", func(d *flow.Definition) { d.Nodes[1].ID = "a b" }, "FLK-0120"},
		{"node id too long", func(d *flow.Definition) { d.Nodes[1].ID = strings.Repeat("x", 51) }, "FLK-0120"},
		{"node type unknown", func(d *flow.Definition) { d.Nodes[1].Type = "loop" }, "FLK-0121"},
		{"node type empty", func(d *flow.Definition) { d.Nodes[1].Type = "" }, "FLK-0121"},
		{"duplicate node id", func(d *flow.Definition) { d.Nodes[3].ID = "approve" }, "FLK-0122"},
		{"reserved node id", func(d *flow.Definition) { d.Nodes[3].ID = "output"; d.Edges[2].Target = "output" }, "FLK-0124"},
		{"node name too long", func(d *flow.Definition) { d.Nodes[0].Name = strings.Repeat("n", 101) }, "FLK-0123"},
		{"edge id missing", func(d *flow.Definition) { d.Edges[0].ID = "" }, "FLK-0130"},
		{"edge id charset", func(d *flow.Definition) { d.Edges[0].ID = "e/1" }, "FLK-0130"},
		{"edge source missing", func(d *flow.Definition) { d.Edges[0].Source = "" }, "FLK-0131"},
		{"edge target missing", func(d *flow.Definition) { d.Edges[0].Target = "" }, "FLK-0132"},
		{"duplicate edge id", func(d *flow.Definition) { d.Edges[2].ID = "e1" }, "FLK-0133"},
		{"edge label too long", func(d *flow.Definition) { d.Edges[0].Label = strings.Repeat("l", 101) }, "FLK-0134"},
		{"edge condition too long", func(d *flow.Definition) { d.Edges[0].Condition = strings.Repeat("c", 501) }, "FLK-0134"},
		{"edge to unknown node", func(d *flow.Definition) { d.Edges[0].Target = "ghost" }, "FLK-0115"},
		{"edge from unknown node", func(d *flow.Definition) { d.Edges[0].Source = "ghost" }, "FLK-0115"},
		{"edge into trigger", func(d *flow.Definition) { d.Edges = append(d.Edges, edge("e4", "approve", "trigger")) }, "FLK-0135"},
		{"self loop", func(d *flow.Definition) { d.Edges = append(d.Edges, edge("e4", "approve", "approve")) }, "FLK-0118"},
		{"cycle", func(d *flow.Definition) {
			d.Edges = append(d.Edges, edge("e4", "approve", "reject"), edge("e5", "reject", "check"))
		}, "FLK-0118"},
		{"metadata entries", func(d *flow.Definition) {
			d.Metadata = map[string]any{}
			for i := range 51 {
				d.Metadata[strings.Repeat("k", i+1)] = i
			}
		}, "FLK-0315"},
		{"metadata key too long", func(d *flow.Definition) { d.Metadata = map[string]any{strings.Repeat("k", 101): 1} }, "FLK-0312"},
		{"metadata empty key", func(d *flow.Definition) { d.Metadata = map[string]any{"": 1} }, "FLK-0312"},
		{"metadata value too big", func(d *flow.Definition) {
			d.Metadata = map[string]any{"k": strings.Repeat("v", 5000)}
		}, "FLK-0313"},
		{"metadata too deep", func(d *flow.Definition) {
			d.Metadata = map[string]any{"k": map[string]any{"a": map[string]any{"b": map[string]any{
				"c": map[string]any{"d": map[string]any{"e": []any{1}}}}}}}
		}, "FLK-0314"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := valid()
			tc.modify(&d)
			err := flow.ValidateDefinition(&d)
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			requireCode(t, err, tc.code, flow.KindInvalid)
		})
	}
}

func TestCycleMessageNamesThePath(t *testing.T) {
	t.Parallel()
	d := valid()
	d.Edges = append(d.Edges, edge("e4", "approve", "reject"), edge("e5", "reject", "check"))
	err := flow.ValidateDefinition(&d)
	require.ErrorContains(t, err, "check → approve → reject → check")
}

func TestValidateForActivation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(d *flow.Definition)
		code   string
		kind   flow.Kind
	}{
		{"valid", func(*flow.Definition) {}, "", 0},
		{"no nodes", func(d *flow.Definition) { d.Nodes, d.Edges = nil, nil }, "FLK-0112", flow.KindUnprocessable},
		{"no trigger", func(d *flow.Definition) { d.Nodes[0].Type = flow.NodeAction }, "FLK-0116", flow.KindUnprocessable},
		{"unreachable node", func(d *flow.Definition) { d.Nodes = append(d.Nodes, node("orphan", flow.NodeAction)) }, "FLK-0119", flow.KindInvalid},
		{"draft rules still apply", func(d *flow.Definition) { d.Name = "" }, "FLK-0110", flow.KindInvalid},
		{"second trigger reaches its own branch", func(d *flow.Definition) {
			d.Nodes = append(d.Nodes, node("hook2", flow.NodeTrigger), node("side", flow.NodeAction))
			d.Edges = append(d.Edges, edge("e9", "hook2", "side"))
		}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := valid()
			tc.modify(&d)
			err := flow.ValidateForActivation(&d)
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			requireCode(t, err, tc.code, tc.kind)
		})
	}
}

func TestWorkflowStateMachine(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := flow.NewWorkflow(uuid.New(), valid(), now)
	require.Equal(t, 1, w.Revision)

	requireCode(t, w.Transition(flow.StatusInactive, now), "FLK-0102", flow.KindUnprocessable)
	requireCode(t, w.Transition(flow.StatusDraft, now), "FLK-0102", flow.KindUnprocessable)
	require.NoError(t, w.CheckDeletable())
	require.NoError(t, w.Transition(flow.StatusActive, now.Add(time.Second)))
	require.Equal(t, 2, w.Revision)
	require.Equal(t, now.Add(time.Second), w.UpdatedAt)
	requireCode(t, w.CheckDeletable(), "FLK-0103", flow.KindUnprocessable)
	requireCode(t, w.Replace(valid(), now), "FLK-0103", flow.KindUnprocessable)
	requireCode(t, w.Transition(flow.StatusActive, now), "FLK-0102", flow.KindUnprocessable)
	requireCode(t, w.Transition(flow.StatusDraft, now), "FLK-0102", flow.KindUnprocessable)
	require.NoError(t, w.Transition(flow.StatusInactive, now))
	require.NoError(t, w.CheckDeletable())
	require.NoError(t, w.Transition(flow.StatusDraft, now))
	require.Equal(t, 4, w.Revision)
}

func TestReplaceMergesMetadata(t *testing.T) {
	t.Parallel()
	now := time.Now()
	d := valid()
	d.Metadata = map[string]any{"keep": "k", "drop": "d", "change": 1.0}
	w := flow.NewWorkflow(uuid.New(), d, now)
	next := valid()
	next.Description = "new"
	next.Metadata = map[string]any{"drop": nil, "change": 2.0, "add": true}
	require.NoError(t, w.Replace(next, now))
	require.Equal(t, map[string]any{"keep": "k", "change": 2.0, "add": true}, w.Metadata)
	require.Equal(t, "new", w.Description)
	require.Equal(t, 2, w.Revision)
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := flow.Cursor{ID: uuid.NewString(), SortValue: "2026-03-20T12:00:00.000000Z", SortBy: "createdAt", Order: "DESC", Next: true}
	got, err := flow.DecodeCursor(c.Encode())
	require.NoError(t, err)
	require.Equal(t, c, *got)
	for _, bad := range []string{"%%%", "bm90IGpzb24=", "e30="} { // not base64, not JSON, no id
		_, err := flow.DecodeCursor(bad)
		require.ErrorIs(t, err, flow.ErrInvalidCursor, bad)
	}
}

func requireCode(t *testing.T, err error, code string, kind flow.Kind) {
	t.Helper()
	require.Error(t, err)
	var fe *flow.Error
	require.ErrorAs(t, err, &fe)
	require.Equal(t, code, fe.Code, fe.Message)
	require.Equal(t, kind, fe.Kind, fe.Message)
}
