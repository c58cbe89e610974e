package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
)

// A number mapped into a GET request's query is written as JSON writes
// it: with fmt.Sprint, 2,500,000 reached the provider as "2.5e+06" (and
// 1,000,000 as "1e+06"), another amount or a refusal, where a POST's body
// said 2500000 (found by a defect hunt). Path placeholders likewise.
func TestGetQueryNumbersAreNotScientific(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/balance", map[string]any{"method": "GET",
		"path": "/balance/{account}", "account": 12345678.0,
		"inputMapping": []any{
			map[string]any{"source": "workflow.amount", "target": "amount"},
			map[string]any{"source": "workflow.limit", "target": "limit"},
		}})}, linkTA)
	ex, _ := env.await(env.start(wf, map[string]any{"amount": 2500000.0, "limit": 1000000.0}))
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	reqs := env.fake.RequestsTo("/balance/12345678")
	require.Len(t, reqs, 1)
	require.Equal(t, "2500000", reqs[0].Query.Get("amount"))
	require.Equal(t, "1000000", reqs[0].Query.Get("limit"))
}

// A set_output reference inside a longer string is rendered as text: a
// number as JSON writes it, an object as its JSON — not fmt.Sprint's
// "2.5e+06" and "map[k:v]" (found by a defect hunt).
func TestTemplateInlineValuesAreJSONText(t *testing.T) {
	env := newTestEnv(t, nil)
	wf := env.workflow([]flow.Node{trig("t"), output("a", map[string]any{
		"msg":  "amount {{ workflow.amount }}",
		"meta": "meta {{ workflow.meta }}",
	})}, linkTA)
	ex, _ := env.await(env.start(wf, map[string]any{"amount": 2500000.0, "meta": map[string]any{"k": "v"}}))
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Equal(t, map[string]any{"msg": "amount 2500000", "meta": `meta {"k":"v"}`}, ex.Output)
}

// An executor's "status" is a JSON number (a double) whether the step was
// just made or read back from the store (after a wait, a rescue or a
// retry): it was a Go int while the call's run lasted, so the documented
// `a.status / 100.0 == 2.0` failed with "no such overload" on a straight
// run and passed after a delay (found by a defect hunt).
func TestExecutorStatusIsOneNumberType(t *testing.T) {
	for _, waits := range []bool{false, true} {
		name := "straight"
		if waits {
			name = "after a delay"
		}
		t.Run(name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			env.fake.Respond("/score", providertest.Response{Body: `{"score": 10}`})
			nodes := []flow.Node{trig("t"), env.callNode("a", "/score", nil),
				cond("c", "a.status / 100.0 == 2.0"), output("ok", map[string]any{"ok": true})}
			edges := []flow.Edge{linkTA, link("c", "ok", "true")}
			if waits {
				nodes = append(nodes, waitNode("d", flow.NodeDelay, map[string]any{"duration": "10m"}))
				edges = append(edges, link("a", "d"), link("d", "c"))
			} else {
				edges = append(edges, link("a", "c"))
			}
			id := env.start(env.workflow(nodes, edges...), nil)
			if waits {
				env.awaitStatus(id, flow.ExecWaiting)
				env.clock.waitTimers(t, idleTimers, "the timer loop")
				env.clock.Advance(11 * time.Minute)
			}
			ex, _ := env.await(id)
			require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
			require.Equal(t, map[string]any{"ok": true}, ex.Output)
		})
	}
}
