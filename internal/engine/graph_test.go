package engine

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/plan"
)

// Table tests of the pure step function: a graph is driven by hand, the
// way the driver does, with executor results made up by the test.

func def(nodes []flow.Node, edges ...flow.Edge) *plan.Plan {
	p, err := plan.Compile(flow.Definition{Name: "t", Nodes: nodes, Edges: edges})
	if err != nil {
		panic(err)
	}
	return p
}

func trig(id string) flow.Node { return flow.Node{ID: id, Type: flow.NodeTrigger} }
func call(id string) flow.Node {
	return flow.Node{ID: id, Type: flow.NodeExecutor, Data: map[string]any{"executorId": "http.request"}}
}
func cond(id, c string) flow.Node {
	return flow.Node{ID: id, Type: flow.NodeConditional, Data: map[string]any{"condition": c}}
}
func output(id string, out map[string]any) flow.Node {
	return flow.Node{ID: id, Type: flow.NodeAction, Data: map[string]any{"actionType": "set_output", "output": out}}
}
func link(from, to string, handle ...string) flow.Edge {
	e := flow.Edge{ID: from + "-" + to, Source: from, Target: to}
	if len(handle) > 0 {
		e.SourceHandle = handle[0]
	}
	return e
}

func fixedNow() time.Time { return time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC) }

// drive runs g to the end, answering each ready executor node with
// answer(node id); it returns the recorded steps "node:status" in order.
func drive(t *testing.T, g *graph, trigger string, answer func(id string) (any, bool)) []string {
	t.Helper()
	g.begin(trigger)
	for range 100 {
		ready := g.takeReady()
		if len(ready) == 0 {
			break
		}
		for _, n := range ready {
			out, ok := answer(n.ID)
			st := flow.Step{NodeID: n.ID, Status: flow.StepCompleted, Output: out}
			if !ok {
				st.Status, st.Output, st.ErrorMessage = flow.StepFailed, nil, "refused"
			}
			g.complete(n, st, out)
		}
	}
	var got []string
	for _, st := range g.takeRecorded() {
		got = append(got, st.NodeID+":"+string(st.Status))
	}
	return got
}

func newTestGraph(p *plan.Plan, input map[string]any, steps ...flow.Step) *graph {
	return newGraph(p, &flow.Execution{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000e1"),
		TriggerNodeID: "t", Input: input}, steps, fixedNow, nil)
}

func okAnswer(id string) (any, bool) { return map[string]any{"body": map[string]any{"from": id}}, true }

func TestGraphWalks(t *testing.T) {
	cases := []struct {
		name   string
		plan   *plan.Plan
		input  map[string]any
		answer func(string) (any, bool)
		want   []string
		failed string // substring of the failure reason, "" for none
	}{
		{name: "linear", plan: def([]flow.Node{trig("t"), call("a"), call("b")}, link("t", "a"), link("a", "b")),
			answer: okAnswer, want: []string{"a:completed", "b:completed"}},
		{name: "conditional true branch; false branch skipped transitively",
			plan: def([]flow.Node{trig("t"), cond("c", "workflow.amount > 10"), call("yes"), call("no"), call("after-no")},
				link("t", "c"), link("c", "yes", "true"), link("c", "no", "false"), link("no", "after-no")),
			input: map[string]any{"amount": 50.0}, answer: okAnswer,
			want: []string{"c:completed", "no:skipped", "after-no:skipped", "yes:completed"}},
		{name: "conditional false branch",
			plan: def([]flow.Node{trig("t"), cond("c", "workflow.amount > 10"), call("yes"), call("no")},
				link("t", "c"), link("c", "yes", "true"), link("c", "no", "false")),
			input: map[string]any{"amount": 5.0}, answer: okAnswer,
			want: []string{"c:completed", "yes:skipped", "no:completed"}},
		{name: "join runs once after both branches",
			plan: def([]flow.Node{trig("t"), call("a"), call("b"), call("j")},
				link("t", "a"), link("t", "b"), link("a", "j"), link("b", "j")),
			answer: okAnswer, want: []string{"a:completed", "b:completed", "j:completed"}},
		{name: "join runs when one branch was skipped",
			plan: def([]flow.Node{trig("t"), cond("c", "true"), call("a"), call("b"), call("j")},
				link("t", "c"), link("c", "a", "true"), link("c", "b", "false"), link("a", "j"), link("b", "j")),
			answer: okAnswer, want: []string{"c:completed", "b:skipped", "a:completed", "j:completed"}},
		{name: "edge condition not met skips the target",
			plan: def([]flow.Node{trig("t"), call("a"), call("b")}, link("t", "a"),
				flow.Edge{ID: "ab", Source: "a", Target: "b", Condition: `a.body.from == "nobody"`}),
			answer: okAnswer, want: []string{"a:completed", "b:skipped"}},
		{name: "first failure stops new nodes",
			plan:   def([]flow.Node{trig("t"), call("a"), call("b")}, link("t", "a"), link("a", "b")),
			answer: func(string) (any, bool) { return nil, false }, want: []string{"a:failed"}, failed: `node "a": refused`},
		{name: "set_output renders from the context",
			plan: def([]flow.Node{trig("t"), call("a"), output("o", map[string]any{"who": "{{ a.body.from }}"})},
				link("t", "a"), link("a", "o")),
			answer: okAnswer, want: []string{"a:completed", "o:completed"}},
		{name: "unknown trigger fails",
			plan: def([]flow.Node{trig("x"), call("a")}, link("x", "a")), answer: okAnswer, failed: "trigger node"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGraph(tc.plan, tc.input)
			require.Equal(t, tc.want, drive(t, g, "t", tc.answer))
			if tc.failed == "" {
				require.True(t, g.failure.none(), "unexpected failure %q", g.failure.reason)
			} else {
				require.Contains(t, g.failure.reason, tc.failed)
				require.Equal(t, flow.ExecFailed, g.failure.status())
			}
		})
	}
}

func TestGraphReplayResumesAfterCompletedSteps(t *testing.T) {
	p := def([]flow.Node{trig("t"), call("a"), call("b"), output("o", map[string]any{"x": "{{ a.body.v }}"})},
		link("t", "a"), link("a", "b"), link("b", "o"))
	steps := []flow.Step{{NodeID: "a", Number: 1, Status: flow.StepCompleted, Output: map[string]any{"body": map[string]any{"v": "kept"}}}}
	g := newTestGraph(p, nil, steps...)
	var called []string
	got := drive(t, g, "t", func(id string) (any, bool) { called = append(called, id); return map[string]any{}, true })
	require.Equal(t, []string{"b"}, called, "a completed before the crash and must not run again")
	require.Equal(t, []string{"b:completed", "o:completed"}, got)
	require.Equal(t, map[string]any{"x": "kept"}, g.finalOutput())
}

func TestGraphSnapshotsAreImmutable(t *testing.T) {
	// A call holds the context it started with while siblings complete:
	// what it holds must not change (defect: a data race on node outputs).
	p := def([]flow.Node{trig("t"), call("a"), call("b")}, link("t", "a"), link("t", "b"))
	g := newTestGraph(p, map[string]any{"k": "v"})
	g.begin("t")
	ready := g.takeReady()
	require.Len(t, ready, 2)
	held := g.vars
	heldNodes := held["nodes"].(map[string]any)
	g.complete(ready[0], flow.Step{NodeID: ready[0].ID, Status: flow.StepCompleted}, "out-a")
	require.Empty(t, heldNodes, "a snapshot's nodes map changed after a sibling completed")
	require.NotContains(t, held, ready[0].ID)
	require.Equal(t, "out-a", g.vars["nodes"].(map[string]any)[ready[0].ID])
}

func TestNextIdempotencyKey(t *testing.T) {
	exec := uuid.MustParse("00000000-0000-0000-0000-0000000000e1")
	base := exec.String() + "/a"
	failed := func(n int, code any) flow.Step {
		st := flow.Step{NodeID: "a", Number: n, Status: flow.StepFailed, CallDetails: map[string]any{}}
		if code != nil {
			st.CallDetails["statusCode"] = code
		}
		st.CallDetails["idempotencyKey"] = base
		return st
	}
	cases := []struct {
		name  string
		steps []flow.Step
		want  string
	}{
		{"never failed", nil, base},
		{"timeout or transport error (outcome unknown): same key", []flow.Step{failed(1, nil)}, base},
		{"5xx (outcome unknown): same key", []flow.Step{failed(1, 503.0)}, base},
		{"2xx then failed in Flowker (effect happened): same key", []flow.Step{failed(1, 200.0)}, base},
		{"429 (not processed, but may be in progress): same key", []flow.Step{failed(1, 429.0)}, base},
		{"definitive 422 refusal: a new key", []flow.Step{failed(3, 422.0)}, base + "/retry-3"},
		{"refused, then timed out with the new key: keep the new key",
			[]flow.Step{failed(3, 422.0), func() flow.Step {
				st := failed(7, nil)
				st.CallDetails["idempotencyKey"] = base + "/retry-3"
				return st
			}()}, base + "/retry-3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := def([]flow.Node{trig("t"), call("a")}, link("t", "a"))
			g := newTestGraph(p, nil, tc.steps...)
			require.Equal(t, tc.want, g.keyFor("a"))
			require.Equal(t, len(tc.steps) > 0, g.retried())
		})
	}
}

func TestStorable(t *testing.T) {
	v := map[string]any{"a\x00": []any{"ok", "bad\xff", map[string]any{"n": 1.0}}}
	out, changed, depth := storable(v)
	require.True(t, changed)
	require.Equal(t, 3, depth)
	require.Equal(t, map[string]any{"a\uFFFD": []any{"ok", "bad\uFFFD", map[string]any{"n": 1.0}}}, out)
	require.Equal(t, "bad\xff", v["a\x00"].([]any)[1], "the answer itself is left as it was")
	clean := map[string]any{"fine": "é€", "deep": []any{map[string]any{"n": 1.0}}}
	out, changed, depth = storable(clean)
	require.False(t, changed)
	require.Equal(t, 3, depth)
	require.Equal(t, reflect.ValueOf(clean).Pointer(), reflect.ValueOf(out).Pointer(),
		"an answer with nothing to replace is kept, not copied")
	require.Equal(t, "x\uFFFDy", storableText("x\x00y"))
	require.False(t, strings.ContainsRune(storableText(string([]byte{0xc3})), 0))
}

// Wait nodes: the graph hands them to the driver, and their resolution's
// handle picks the edges; a replayed step restores the handle.
func TestGraphWaitHandles(t *testing.T) {
	review := flow.Node{ID: "r", Type: flow.NodeReview, Data: map[string]any{"decisions": []any{"approve", "reject", "escalate"}}}
	callback := flow.Node{ID: "c", Type: flow.NodeWaitForCallback, Data: map[string]any{"timeout": "1h"}}
	p := def([]flow.Node{trig("t"), review, callback, call("ok"), call("no"), call("up"), call("got"), call("late")},
		link("t", "r"), link("t", "c"), link("r", "ok", "approve"), link("r", "no", "reject"), link("r", "up", "escalate"),
		link("c", "got"), link("c", "late", "timeout"))
	for _, tc := range []struct {
		decision, callbackHandle string
		want                     []string
	}{
		{"reject", "", []string{"ok:skipped", "up:skipped", "late:skipped"}},
		{"escalate", "timeout", []string{"ok:skipped", "no:skipped", "got:skipped"}},
	} {
		g := newTestGraph(p, nil)
		g.begin("t")
		arrived := g.takeArrived()
		require.Len(t, arrived, 2)
		require.Empty(t, g.takeReady(), "a wait node is not called")
		for _, n := range arrived {
			handle := tc.decision
			if n.ID == "c" {
				handle = tc.callbackHandle
			}
			g.pass(n, flow.Step{NodeID: n.ID, Status: flow.StepCompleted, CallDetails: map[string]any{"handle": handle}}, handle)
		}
		var skipped []string
		for _, st := range g.takeRecorded() {
			if st.Status == flow.StepSkipped {
				skipped = append(skipped, st.NodeID+":skipped")
			}
		}
		require.ElementsMatch(t, tc.want, skipped, tc.decision)

		// Replayed from its steps, the review takes the same edge.
		again := newTestGraph(p, nil, flow.Step{Number: 1, NodeID: "r", Status: flow.StepCompleted,
			CallDetails: map[string]any{"handle": tc.decision}})
		again.begin("t")
		var ready []string
		for _, n := range again.takeReady() {
			ready = append(ready, n.ID)
		}
		require.Len(t, ready, 1)
		require.Contains(t, map[string]string{"reject": "no", "escalate": "up"}[tc.decision], ready[0])
	}
}
