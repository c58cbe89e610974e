package httpapi_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// An executor step's default output is the reference's full response
// envelope {status, status_text, url, headers, body} (reference engine
// §2.4, §4.8): it lacked status_text and url, so a reference workflow's
// condition on `<node>.status_text` failed the run (found by a defect hunt).
func TestExecutorOutputIsTheReferenceEnvelope(t *testing.T) {
	t.Parallel()
	e := newCompatEnv(t, nil)
	e.fake.Respond("/v1/kyc/validate", providertest.Response{Status: 201, Body: `{"decision":"ALLOW"}`})
	nodes := []map[string]any{
		triggerNode("start"),
		executorNode("call", map[string]any{"executorId": "tracer.validate-transaction",
			"providerConfigId": e.tracer, "endpointName": "validate"}),
		condNode("check", `call.status_text == "201 Created" AND call.url.endsWith("/v1/kyc/validate")`),
	}
	id := e.activate(nodes, []map[string]any{edge("start", "call"), edge("call", "check")})
	res := e.run(id, map[string]any{})
	require.Equal(t, "completed", res["status"], "%v", res)
	out := step(t, res, "call")["output"].(map[string]any)
	require.ElementsMatch(t, []string{"status", "status_text", "url", "headers", "body"}, keys(out))
	require.Equal(t, 201.0, out["status"])
	require.Equal(t, "201 Created", out["status_text"])
	require.Equal(t, e.fake.URL+"/v1/kyc/validate", out["url"])
	require.Equal(t, map[string]any{"decision": "ALLOW"}, out["body"])
	require.Equal(t, true, step(t, res, "check")["output"].(map[string]any)["result"])
}

// A status net/http has no text for reads as the code alone.
func TestExecutorOutputStatusTextOfAnUnnamedCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	fake.Respond("/odd", providertest.Response{Status: 299, Body: `{}`})
	pc := h.createProvider(map[string]any{"name": "odd", "providerId": "http", "config": map[string]any{"base_url": fake.URL}})
	wf := h.activate([]map[string]any{triggerNode("start"),
		callNodeFor(pc, "call", "/odd", map[string]any{"success_status_codes": []any{299}})},
		[]map[string]any{edge("start", "call")})
	res := h.run(wf, nil)
	require.Equal(t, "completed", res["status"], "%v", res)
	require.Equal(t, "299", step(t, res, "call")["output"].(map[string]any)["status_text"])
}

// The envelope's url is the URL called as the step's call details record
// it: user info, query values and a callback token are redacted, in the
// results and in the stored step.
func TestExecutorOutputURLIsRedacted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	const password, token, key = "zq-url-password-SECRET-27182", "zq-callback-token-SECRET-27182", "zq-query-key-SECRET-27182"
	fake.Respond("/v1/callbacks/"+token+"/score", providertest.Response{Body: `{}`})
	base := strings.Replace(fake.URL, "://", "://flowker:"+password+"@", 1) + "/v1/callbacks/" + token + "/score?key=" + key
	pc := h.createProvider(map[string]any{"name": "redacted", "providerId": "http", "config": map[string]any{"base_url": base}})
	wf := h.activate([]map[string]any{triggerNode("start"), callNodeFor(pc, "call", "")}, // no path: the base URL alone, query and all
		[]map[string]any{edge("start", "call")})
	res := h.run(wf, nil)
	require.Equal(t, "completed", res["status"], "%v", res)
	require.Len(t, fake.RequestsTo("/v1/callbacks/"+token+"/score"), 1, "the provider got the real URL")

	want := strings.Replace(fake.URL, "://", "://REDACTED@", 1) + "/v1/callbacks/REDACTED/score?key=REDACTED"
	s := step(t, res, "call")
	require.Equal(t, want, s["output"].(map[string]any)["url"])
	require.Equal(t, want, s["callDetails"].(map[string]any)["url"])
	db, err := sql.Open("sqlite", "file:"+h.dbPath)
	require.NoError(t, err)
	defer db.Close()
	steps := dumpTable(context.Background(), t, db, "execution_steps")
	require.Contains(t, steps, "/v1/callbacks/REDACTED/score", "the dump sees the step")
	requireNoSecrets(t, "stored steps", []byte(steps), []string{password, token, key})
}

// A set_output step records the node's data, as the reference records
// every action's (reference engine §2.8), with its output rendered: it
// recorded the rendered output alone (found by a defect hunt). The data is
// copied: the runs of a workflow share it, and here they render at once,
// released together by their provider (a race build sees a write to it).
func TestSetOutputStepRecordsTheNodeData(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	release := make(chan struct{})
	var once sync.Once
	answer := func() { once.Do(func() { close(release) }) }
	t.Cleanup(answer) // before the fake closes, should the test end first
	fake.Hold("/hold", release)
	fake.Respond("/hold", providertest.Response{Body: `{}`})
	pc := h.createProvider(map[string]any{"name": "held", "providerId": "http", "config": map[string]any{"base_url": fake.URL}})
	data := map[string]any{"actionType": "set_output", "label": "done",
		"output": map[string]any{"customer": "{{ workflow.customer }}", "approved": true}}
	wf := h.activate([]map[string]any{triggerNode("start"), callNodeFor(pc, "call", "/hold"),
		{"id": "done", "type": "action", "data": data}},
		[]map[string]any{edge("start", "call"), edge("call", "done")})
	ids := make([]string, 8)
	for i := range ids {
		ids[i] = h.startAsync(wf, map[string]any{"customer": fmt.Sprintf("c-%d", i)})
	}
	eventually(t, "every run to reach its provider", func() bool { return len(fake.RequestsTo("/hold")) == len(ids) })
	answer()
	for i, id := range ids {
		res := h.await(id, "completed")
		out := map[string]any{"customer": fmt.Sprintf("c-%d", i), "approved": true}
		require.Equal(t, out, res["finalOutput"], "the final output is the rendered output alone")
		require.Equal(t, map[string]any{"actionType": "set_output", "label": "done", "output": out},
			step(t, res, "done")["output"])
	}
}
