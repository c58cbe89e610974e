package httpapi_test

// Graph semantics end to end: the walk, branches, joins, fan-out,
// conditions, set_output and the final output.

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

func TestGraphLinear(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), e.callNode("b", "/b"), e.callNode("c", "/c")},
		[]map[string]any{edge("t", "a"), edge("a", "b"), edge("b", "c")})

	res := e.run(wf, map[string]any{"amount": 10})
	require.Equal(t, "completed", res["status"], "%v", res)
	require.Equal(t, []string{"/a", "/b", "/c"}, e.paths())
	all := steps(t, res)
	require.Len(t, all, 3)
	for i, id := range []string{"a", "b", "c"} {
		require.Equal(t, id, all[i]["nodeId"])
		require.Equal(t, "completed", all[i]["status"])
		require.Equal(t, i+1, num(t, all[i]["stepNumber"]))
		require.Equal(t, 1, num(t, all[i]["attempts"]))
	}
	got := e.expect(e.do("GET", "/v1/executions/"+res["executionId"].(string), nil), http.StatusOK, "")
	require.Equal(t, 3, num(t, got["currentStepNumber"]))
	require.Equal(t, 3, num(t, got["totalSteps"]))
	require.NotEmpty(t, got["completedAt"])
}

// TestGraphBranches: a conditional node takes one handle; the other branch
// and every node only it leads to are recorded skipped and never called.
func TestGraphBranches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		ok         bool
		ran, skipd []string
	}{
		{"true", true, []string{"yes", "yes2"}, []string{"no", "no2"}},
		{"false", false, []string{"no", "no2"}, []string{"yes", "yes2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newFlowEnv(t, nil)
			e.fake.Respond("/a", okJSON(map[string]any{"ok": tc.ok}))
			wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), condNode("check", "a.body.ok == true"),
				e.callNode("yes", "/yes"), e.callNode("yes2", "/yes2"), e.callNode("no", "/no"), e.callNode("no2", "/no2")},
				[]map[string]any{edge("t", "a"), edge("a", "check"), edge("check", "yes", "true"), edge("yes", "yes2"),
					edge("check", "no", "false"), edge("no", "no2")})

			res := e.run(wf, nil)
			require.Equal(t, "completed", res["status"], "%v", res)
			st := statuses(t, res)
			require.Equal(t, "completed", st["check"])
			for _, id := range append([]string{"a"}, tc.ran...) {
				require.Equal(t, "completed", st[id], id)
				require.Len(t, e.fake.RequestsTo("/"+id), 1, id)
			}
			for _, id := range tc.skipd {
				require.Equal(t, "skipped", st[id], id)
				require.Empty(t, e.fake.RequestsTo("/"+id), "a skipped node is never called")
			}
			require.Len(t, steps(t, res), 6, "one step per node, skipped ones included")
			check := step(t, res, "check")["output"].(map[string]any)
			require.Equal(t, tc.ok, check["result"])
		})
	}
}

// TestGraphDiamondJoin: d has two incoming edges and runs once, after both.
func TestGraphDiamondJoin(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	// c answers late, so d would run early if the join did not wait.
	e.fake.Respond("/c", providertest.Response{Body: `{"side":"c"}`, Delay: 50 * time.Millisecond})
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), e.callNode("b", "/b"), e.callNode("c", "/c"),
		e.callNode("d", "/d")},
		[]map[string]any{edge("t", "a"), edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d")})

	res := e.run(wf, nil)
	require.Equal(t, "completed", res["status"], "%v", res)
	require.Len(t, e.fake.RequestsTo("/d"), 1, "the join runs once")
	paths := e.paths()
	require.Equal(t, "/d", paths[len(paths)-1], "d is called after b and c: %v", paths)
	d := num(t, step(t, res, "d")["stepNumber"])
	require.Greater(t, d, num(t, step(t, res, "b")["stepNumber"]))
	require.Greater(t, d, num(t, step(t, res, "c")["stepNumber"]))
	require.Len(t, steps(t, res), 4)
}

// TestGraphJoinWithSkippedSide: one incoming branch was not taken; the join
// still runs, once.
func TestGraphJoinWithSkippedSide(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	e.fake.Respond("/a", okJSON(map[string]any{"ok": true}))
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), condNode("check", "a.body.ok"),
		e.callNode("b", "/b"), e.callNode("c", "/c"), e.callNode("d", "/d")},
		[]map[string]any{edge("t", "a"), edge("a", "check"), edge("check", "b", "true"), edge("check", "c", "false"),
			edge("b", "d"), edge("c", "d")})

	res := e.run(wf, nil)
	require.Equal(t, "completed", res["status"], "%v", res)
	st := statuses(t, res)
	require.Equal(t, "completed", st["b"])
	require.Equal(t, "skipped", st["c"])
	require.Equal(t, "completed", st["d"])
	require.Len(t, stepsOf(t, res, "d"), 1)
	require.Len(t, e.fake.RequestsTo("/d"), 1)
	require.Empty(t, e.fake.RequestsTo("/c"))
}

// TestGraphFanOutOverlaps: b and c are both in flight at once — each is held
// until the other has arrived.
func TestGraphFanOutOverlaps(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	releaseB, releaseC := e.hold("/b"), e.hold("/c")
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), e.callNode("b", "/b"), e.callNode("c", "/c"),
		e.callNode("d", "/d")},
		[]map[string]any{edge("t", "a"), edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d")})

	id := e.startAsync(wf, nil)
	e.waitCalls("/b", 1)
	e.waitCalls("/c", 1) // c arrived while b is still held: they overlap
	require.Empty(t, e.fake.RequestsTo("/d"))
	releaseB()
	releaseC()
	res := e.await(id, "completed")
	b, c := step(t, res, "b"), step(t, res, "c")
	bStart, bEnd := stepTimes(t, b)
	cStart, cEnd := stepTimes(t, c)
	require.True(t, bStart.Before(cEnd) && cStart.Before(bEnd), "the recorded intervals overlap: b %v–%v, c %v–%v",
		bStart, bEnd, cStart, cEnd)
	require.Len(t, e.fake.RequestsTo("/d"), 1)
}

func stepTimes(t *testing.T, s map[string]any) (start, end time.Time) {
	t.Helper()
	start, err := time.Parse(time.RFC3339Nano, s["executedAt"].(string))
	require.NoError(t, err)
	// durationMs is truncated: one more millisecond bounds the true end.
	return start, start.Add(time.Duration(num(t, s["durationMs"])+1) * time.Millisecond)
}

// TestGraphEdgeCondition: an edge whose condition is false is not taken.
func TestGraphEdgeCondition(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	e.fake.Respond("/a", okJSON(map[string]any{"amount": 500}))
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), e.callNode("big", "/big"),
		e.callNode("small", "/small")},
		[]map[string]any{edge("t", "a"), condEdge("a", "big", "a.body.amount >= 100"),
			condEdge("a", "small", "a.body.amount < 100")})

	res := e.run(wf, nil)
	require.Equal(t, "completed", res["status"], "%v", res)
	st := statuses(t, res)
	require.Equal(t, "completed", st["big"])
	require.Equal(t, "skipped", st["small"])
	require.Empty(t, e.fake.RequestsTo("/small"))
	require.Len(t, e.fake.RequestsTo("/big"), 1)
}

func TestGraphRefusedAtSave(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	save := func(nodes, edges []map[string]any) map[string]any {
		return e.expect(e.do("POST", "/v1/workflows", workflowBody(nodes, edges)), http.StatusBadRequest, "")
	}

	// A cycle: a → b → a.
	res := save([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), e.callNode("b", "/b")},
		[]map[string]any{edge("t", "a"), edge("a", "b"), edge("b", "a")})
	require.Equal(t, "FLK-0118", res["code"], "%v", res)

	// A condition that does not compile names the node and the position.
	res = save([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), condNode("check", "a.body.ok == ")},
		[]map[string]any{edge("t", "a"), edge("a", "check")})
	require.Equal(t, "FLK-0105", res["code"], "%v", res)
	require.Contains(t, res["message"], `node "check"`)
	require.Contains(t, res["message"], "line 1, column")

	// An unknown name is caught by the type check, at its column.
	res = save([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), condNode("check", "a.body.ok &&\n  zzz.ok")},
		[]map[string]any{edge("t", "a"), edge("a", "check")})
	require.Equal(t, "FLK-0105", res["code"], "%v", res)
	require.Contains(t, res["message"], "line 2, column 3")

	// Edge conditions too, naming the edge.
	res = save([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), e.callNode("b", "/b")},
		[]map[string]any{edge("t", "a"), condEdge("a", "b", "a.body.ok ==")})
	require.Equal(t, "FLK-0105", res["code"], "%v", res)
	require.Contains(t, res["message"], `edge "a-b"`)
}

// TestGraphReferenceDialect: AND, == and a hyphenated node id work as in the
// reference, both ways.
func TestGraphReferenceDialect(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("kyc-check", "/kyc"), e.callNode("aml", "/aml"),
		condNode("decide", `kyc-check.body.score > 70 AND aml.body.status == "clear"`),
		outputNode("approve", map[string]any{"decision": "approved"}),
		outputNode("reject", map[string]any{"decision": "rejected"})},
		[]map[string]any{edge("t", "kyc-check"), edge("kyc-check", "aml"), edge("aml", "decide"),
			edge("decide", "approve", "true"), edge("decide", "reject", "false")})

	for _, tc := range []struct {
		score  int
		status string
		want   string
	}{{85, "clear", "approved"}, {50, "clear", "rejected"}, {85, "hit", "rejected"}} {
		e.fake.Respond("/kyc", okJSON(map[string]any{"score": tc.score}))
		e.fake.Respond("/aml", okJSON(map[string]any{"status": tc.status}))
		res := e.run(wf, nil)
		require.Equal(t, "completed", res["status"], "%v", res)
		require.Equal(t, map[string]any{"decision": tc.want}, res["finalOutput"], "score %d status %s", tc.score, tc.status)
	}
}

// TestGraphSetOutput: set_output references context values; its result is
// the final output, and nothing else is. Its step records the node's data
// with the rendered output, as the reference's action steps do.
func TestGraphSetOutput(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	e.fake.Respond("/a", okJSON(map[string]any{"id": "tx-42", "score": 91.5}))
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a"),
		outputNode("out", map[string]any{"transactionId": "{{ a.body.id }}", "score": "{{a.body.score}}",
			"customer": "{{ workflow.customer.id }}", "note": "tx {{ a.body.id }} scored {{ a.body.score }}",
			"fixed": true})},
		[]map[string]any{edge("t", "a"), edge("a", "out")})

	res := e.run(wf, map[string]any{"customer": map[string]any{"id": "c-7"}, "secret": "s3cret"})
	require.Equal(t, "completed", res["status"], "%v", res)
	require.Equal(t, map[string]any{"transactionId": "tx-42", "score": 91.5, "customer": "c-7",
		"note": "tx tx-42 scored 91.5", "fixed": true}, res["finalOutput"])
	require.Equal(t, map[string]any{"actionType": "set_output", "output": res["finalOutput"]}, step(t, res, "out")["output"])
}

// TestGraphFinalOutputWithoutSetOutput: the final output holds the executor
// outputs but never the input or the webhook metadata.
func TestGraphFinalOutputWithoutSetOutput(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	e.fake.Respond("/a", okJSON(map[string]any{"id": "a-1"}))
	e.fake.Respond("/b", okJSON(map[string]any{"id": "b-1"}))
	hook := "/final-" + uuid.NewString()[:8]
	wf := e.activate([]map[string]any{
		{"id": "hook", "type": "trigger", "data": map[string]any{"triggerType": "webhook", "path": hook, "method": "POST"}},
		e.callNode("a", "/a"), e.callNode("b", "/b")},
		[]map[string]any{edge("hook", "a"), edge("a", "b")})

	r := e.do("POST", "/v1/webhooks"+hook+"?wait=5s", map[string]any{"secret": "s3cret-input"})
	res := e.expect(r, http.StatusOK, "")
	require.Equal(t, wf, r.header.Get("X-Webhook-Workflow-ID"))
	require.Equal(t, "completed", res["status"], "%v", res)
	out := res["finalOutput"].(map[string]any)
	require.ElementsMatch(t, []string{"a", "b"}, keys(out))
	require.Equal(t, "a-1", out["a"].(map[string]any)["body"].(map[string]any)["id"])
	require.Equal(t, "b-1", out["b"].(map[string]any)["body"].(map[string]any)["id"])
	raw, err := json.Marshal(out)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "s3cret-input")
	require.NotContains(t, string(raw), "_webhook")

	// Without executors either, the output is empty rather than the context.
	wf2 := e.activate([]map[string]any{triggerNode("t"), condNode("c", "workflow.x == 1"), outputNode("n",
		map[string]any{"ok": true})}, []map[string]any{edge("t", "c"), edge("c", "n", "false")})
	res = e.run(wf2, map[string]any{"x": 1, "secret": "s3cret-input"})
	require.Equal(t, "completed", res["status"], "%v", res)
	require.Equal(t, "skipped", step(t, res, "n")["status"])
	require.Empty(t, res["finalOutput"], "no executor outputs and no set_output: nothing, not the context")
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
