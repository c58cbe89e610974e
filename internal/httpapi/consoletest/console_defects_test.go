package consoletest_test

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// recordBodies makes the page keep the body of every request with a body
// it sends to a URL containing part, in window.__bodies, as sent.
func recordBodies(b *browser, part string) {
	b.t.Helper()
	require.True(b.t, eval[bool](b, `(() => { const orig = window.fetch; window.__bodies = [];
		window.fetch = (u, o) => { if (String(u).includes(`+jsString(part)+`) && o && typeof o.body === "string") window.__bodies.push(o.body);
			return orig(u, o) }; return true })()`))
}

// dropFetches makes the page's requests to a URL containing part fail as a
// dropped connection does (the request never reaches the server), until
// window.__dropping is set to false; window.__dropped counts them.
func dropFetches(b *browser, part string) {
	b.t.Helper()
	require.True(b.t, eval[bool](b, `(() => { const orig = window.fetch; window.__dropped = 0; window.__dropping = true;
		window.fetch = (u, o) => { if (window.__dropping && String(u).includes(`+jsString(part)+`)) { window.__dropped++; return Promise.reject(new TypeError("Failed to fetch")) }
			return orig(u, o) }; return true })()`))
}

// TestConsoleStartSendsInputAsTyped: the start form sends the input as
// typed, inside {"inputData": …}; an amount a float64 would change
// (9007199254740993) reaches the API as written and is refused there
// (FLK-0001, shown in the page) instead of being rounded and run.
func TestConsoleStartSendsInputAsTyped(t *testing.T) {
	f := newFixture(t)
	f.fake.Respond("/post", providertest.Response{Body: `{"posted":true}`})
	call := f.call("post", "/post")
	call["data"].(map[string]any)["inputMapping"] = []map[string]any{{"source": "workflow.amountCents", "target": "amountCents"},
		{"source": "workflow.note", "target": "note"}}
	wf := f.activeWorkflow("post-amount", []map[string]any{trigger(), call}, []map[string]any{edge("start", "post")})

	b := newBrowser(t, f.base)
	b.open("/console/workflows/"+wf, "[data-testid=start-execution]")
	recordBodies(b, "/executions")
	const tooPrecise = `{"amountCents": 9007199254740993, "note": "as typed"}`
	b.setValue("[data-testid=input-json]", tooPrecise)
	b.click("[data-testid=start-execution]")
	b.waitText("main", "FLK-0001")
	b.waitText("main", "send it as a string")
	require.Equal(t, []any{`{"inputData":` + tooPrecise + `}`}, eval[[]any](b, `window.__bodies`), "the input is sent as typed")
	require.Empty(t, f.fake.RequestsTo("/post"), "nothing ran")
	require.Equal(t, "/console/workflows/"+wf, eval[string](b, `location.pathname`), "still on the workflow")

	// An input the API keeps: sent as typed (its spacing too), and run.
	const exact = "{\"amountCents\":  9007199254740992 ,\n \"note\": \"-0 stays -0\"}"
	b.setValue("[data-testid=input-json]", exact)
	b.click("[data-testid=start-execution]")
	b.waitFor("the execution page", `location.pathname.startsWith("/console/executions/")`)
	require.Equal(t, `{"inputData":`+exact+`}`, eval[string](b, `window.__bodies[window.__bodies.length - 1]`))
	b.waitText("[data-testid=execution-status]", "completed")
	sent := f.fake.RequestsTo("/post")
	require.Len(t, sent, 1)
	require.Contains(t, string(sent[0].Body), "9007199254740992")
	b.clean("400")
}

// TestConsoleTemplateParamsSentAsTyped: the create-from-template form sends
// the parameters as typed, inside {"templateId": …, "params": …}.
func TestConsoleTemplateParamsSentAsTyped(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t, f.base)
	b.open("/console/workflows", "[data-testid=workflows-table]")
	b.click("[data-testid=new-from-template]")
	b.waitFor("the templates", `document.querySelectorAll("[data-testid=template-select] option").length > 1`)
	b.selectValue("[data-testid=template-select]", "tracer-midaz-validation")
	b.waitFor("template parameters", `(document.querySelector("[data-testid=template-params]") || {}).value.includes("tracerProviderConfigId")`)
	recordBodies(b, "/from-template")
	params := fmt.Sprintf(`{"workflowName": "typed-params", "tracerProviderConfigId": %q, "midazProviderConfigId": %q, "unused": 12345678901234567}`, f.tracer, f.midaz)
	b.setValue("[data-testid=template-params]", params)
	b.click("[data-testid=template-create]")
	b.waitFor("the answer", `window.__bodies.length === 1`)
	require.Equal(t, `{"templateId":"tracer-midaz-validation","params":`+params+`}`, eval[string](b, `window.__bodies[0]`))
}

// TestConsoleEditorKeepsNumbers: the JSON editor shows numbers as stored
// (-0, 1e+21, 9007199254740991, 0.1), a save without edits leaves the
// definition as it was, and a literal typed into a node's data is sent as
// typed: one a float64 cannot hold is refused by the API (FLK-0001, shown)
// and nothing is saved.
func TestConsoleEditorKeepsNumbers(t *testing.T) {
	f := newFixture(t)
	call := f.call("post", "/post")
	call["data"].(map[string]any)["body"] = map[string]any{"negzero": math.Copysign(0, -1), "big": 1e21, "int": 9007199254740991,
		"ratio": 0.1, "accountId": "PLACEHOLDER"}
	id := f.do("POST", "/v1/workflows", map[string]any{"name": "literal-numbers", "nodes": []map[string]any{trigger(), call},
		"edges": []map[string]any{edge("start", "post")}}, http.StatusCreated)["workflowId"].(string)
	body := func() string {
		wf := f.do("GET", "/v1/workflows/"+id, nil, http.StatusOK)
		for _, n := range wf["nodes"].([]any) {
			if n := n.(map[string]any); n["id"] == "post" {
				text, err := jsonText(n["data"].(map[string]any)["body"])
				require.NoError(t, err)
				return text
			}
		}
		t.Fatal("no node post")
		return ""
	}
	stored := body()
	require.Contains(t, stored, `"negzero": -0`)

	b := newBrowser(t, f.base)
	b.open("/console/workflows/"+id, "[data-testid=edit-json]")
	b.click("[data-testid=edit-json]")
	b.waitFor("the editor", `!!document.querySelector("[data-testid=editor-json]")`)
	editor := eval[string](b, `document.querySelector("[data-testid=editor-json]").value`)
	for _, want := range []string{`"negzero": -0,`, `"big": 1e+21,`, `"int": 9007199254740991,`, `"ratio": 0.1`} {
		require.Contains(t, editor, want, "the editor shows the number as stored")
	}

	// Saved unchanged: the same definition.
	rev := f.do("GET", "/v1/workflows/"+id, nil, http.StatusOK)["revision"].(float64)
	b.click("[data-testid=save-json]")
	b.waitFor("the editor closed", `!document.querySelector("[data-testid=editor-json]")`)
	require.Greater(t, f.do("GET", "/v1/workflows/"+id, nil, http.StatusOK)["revision"].(float64), rev, "saved")
	require.Equal(t, stored, body(), "a save without edits changed the node's data")

	// A literal a float64 would round: refused, shown, not saved.
	b.click("[data-testid=edit-json]")
	b.waitFor("the editor", `!!document.querySelector("[data-testid=editor-json]")`)
	b.setValue("[data-testid=editor-json]", eval[string](b, `document.querySelector("[data-testid=editor-json]").value.replace('"PLACEHOLDER"', "12345678901234567")`))
	b.click("[data-testid=save-json]")
	b.waitText("main", "FLK-0001")
	b.waitText("main", "send it as a string")
	require.True(t, eval[bool](b, `document.querySelector("[data-testid=editor-json]").value.includes("12345678901234567")`), "the edits are kept")
	require.Equal(t, stored, body(), "nothing saved")
	b.clean("400")
}

// TestConsoleLifecycleActionsOfWhatIsShown: activate (and the executor
// configuration actions) are sent with If-Match, the ETag of what the page
// shows: changed elsewhere meanwhile, the action is refused (412), the page
// says so and offers a reload; after it, the action goes through.
func TestConsoleLifecycleActionsOfWhatIsShown(t *testing.T) {
	f := newFixture(t)
	nodes := []map[string]any{trigger(), f.call("sanctions", "/sanctions"), f.call("pay", "/pay")}
	id := f.do("POST", "/v1/workflows", map[string]any{"name": "payout", "nodes": nodes,
		"edges": []map[string]any{edge("start", "sanctions"), edge("sanctions", "pay")}}, http.StatusCreated)["workflowId"].(string)

	b := newBrowser(t, f.base)
	b.open("/console/workflows/"+id, "[data-testid=activate]")
	b.waitFor("3 nodes drawn", `document.querySelectorAll(".react-flow__node").length === 3`)
	f.do("PUT", "/v1/workflows/"+id, map[string]any{"name": "payout", "nodes": []map[string]any{trigger(), f.call("pay", "/pay")},
		"edges": []map[string]any{edge("start", "pay")}}, http.StatusOK)
	b.click("[data-testid=activate]")
	b.waitText("main", "changed by someone else")
	b.waitText("main", "not activated")
	require.Equal(t, "draft", f.do("GET", "/v1/workflows/"+id, nil, http.StatusOK)["status"], "not activated")
	b.click("[data-testid=reload]")
	b.waitFor("2 nodes drawn", `document.querySelectorAll(".react-flow__node").length === 2`)
	b.click("[data-testid=activate]")
	b.waitFor("the deactivate button", `!!document.querySelector("[data-testid=deactivate]")`)
	require.Equal(t, "active", f.do("GET", "/v1/workflows/"+id, nil, http.StatusOK)["status"])

	// Deactivate after a change elsewhere (deactivated, back to draft and
	// activated again).
	f.do("POST", "/v1/workflows/"+id+"/deactivate", nil, http.StatusOK)
	f.do("POST", "/v1/workflows/"+id+"/draft", nil, http.StatusOK)
	f.do("POST", "/v1/workflows/"+id+"/activate", nil, http.StatusOK)
	b.click("[data-testid=deactivate]")
	b.waitText("main", "not deactivated")
	require.Equal(t, "active", f.do("GET", "/v1/workflows/"+id, nil, http.StatusOK)["status"])

	// An executor configuration changed elsewhere: "Mark configured" refused.
	ex := f.do("POST", "/v1/executors", map[string]any{"name": "kyc-service", "baseUrl": f.fake.URL,
		"endpoints":      []map[string]any{{"name": "check", "path": "/v1/check", "method": "POST"}},
		"authentication": map[string]any{"type": "none"}}, http.StatusCreated)["id"].(string)
	b.open("/console/executors/"+ex, "[data-testid=executor-configure]")
	f.do("PATCH", "/v1/executors/"+ex, map[string]any{"name": "kyc-service", "baseUrl": f.fake.URL + "/elsewhere",
		"endpoints":      []map[string]any{{"name": "check", "path": "/v1/check", "method": "POST"}},
		"authentication": map[string]any{"type": "none"}}, http.StatusOK)
	b.click("[data-testid=executor-configure]")
	b.waitText("main", "changed by someone else")
	require.Equal(t, "unconfigured", f.do("GET", "/v1/executors/"+ex, nil, http.StatusOK)["status"])
	b.click("[data-testid=executor-reload]")
	b.waitText("[data-testid=executor-details]", "/elsewhere")
	b.click("[data-testid=executor-configure]")
	b.waitExactText("[data-testid=lifecycle] .current", "configured")
	require.Equal(t, "configured", f.do("GET", "/v1/executors/"+ex, nil, http.StatusOK)["status"])
	b.clean("412")
}

// TestConsoleCancelFailureStays: a cancel that fails (a network error) is
// said on the page until the next action, through the page's refreshes;
// a cancel requested and not yet done says so.
func TestConsoleCancelFailureStays(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.fake.Hold("/slow", release)
	wf := f.activeWorkflow("held-payment", []map[string]any{trigger(), f.call("slow", "/slow")},
		[]map[string]any{edge("start", "slow")})
	ex := f.start(wf, map[string]any{"amount": 10})

	b := newBrowser(t, f.base)
	b.open("/console/executions/"+ex, "[data-testid=execution-status]")
	b.waitFor("the held node running", stateOf("slow")+` === "running"`)
	dropFetches(b, "/cancel")
	b.click("[data-testid=cancel]")
	b.waitText("[data-testid=action-error]", "network error")
	b.waitText("[data-testid=action-error]", "cancel was not done")
	time.Sleep(3 * time.Second) // three refreshes
	require.Equal(t, "running", f.do("GET", "/v1/executions/"+ex, nil, http.StatusOK)["status"])
	b.waitText("[data-testid=action-error]", "network error")

	// The execution as the API answers it while a cancel is pending.
	require.True(t, eval[bool](b, `(() => { const orig = window.fetch;
		window.fetch = async (u, o) => { const r = await orig(u, o);
			if (!String(u).endsWith(`+jsString("/v1/executions/"+ex)+`) || !r.ok) return r;
			const x = await r.json(); x.cancelRequested = true;
			return new Response(JSON.stringify(x), { status: 200, headers: { "Content-Type": "application/json" } }) };
		return true })()`))
	b.waitText("[data-testid=cancel-requested]", "Cancel requested")

	// The next cancel goes through: the error goes.
	require.True(t, eval[bool](b, `(window.__dropping = false, true)`))
	b.click("[data-testid=cancel]")
	b.waitFor("the error gone", `!document.querySelector("[data-testid=action-error]")`)
	b.waitText("[data-testid=execution-status]", "cancelled")
	b.clean("Failed to fetch")
}

// TestConsoleExecutionRevisionNotice: an execution of an older revision
// than the workflow's current one says that the graph drawn is the
// workflow as it is now, naming both revisions; one of the current
// revision says nothing.
func TestConsoleExecutionRevisionNotice(t *testing.T) {
	f := newFixture(t)
	f.fake.Respond("/sanctions", providertest.Response{Body: `{"hit":false}`})
	f.fake.Respond("/pay", providertest.Response{Body: `{"ok":true}`})
	wf := f.activeWorkflow("payout", []map[string]any{trigger(), f.call("sanctions", "/sanctions"), f.call("pay", "/pay")},
		[]map[string]any{edge("start", "sanctions"), edge("sanctions", "pay")})
	old := f.start(wf, nil)
	f.await(old, "completed")
	ran := f.do("GET", "/v1/executions/"+old, nil, http.StatusOK)["workflowRevision"]

	b := newBrowser(t, f.base)
	b.open("/console/executions/"+old, "[data-testid=execution-status]")
	b.waitText("[data-testid=execution-status]", "completed")
	b.waitFor("the graph", `document.querySelectorAll(".react-flow__node").length === 3`)
	time.Sleep(300 * time.Millisecond)
	require.False(t, eval[bool](b, `!!document.querySelector("[data-testid=revision-notice]")`), "the revision that ran is drawn")

	f.do("POST", "/v1/workflows/"+wf+"/deactivate", nil, http.StatusOK)
	f.do("POST", "/v1/workflows/"+wf+"/draft", nil, http.StatusOK)
	f.do("PUT", "/v1/workflows/"+wf, map[string]any{"name": "payout", "nodes": []map[string]any{trigger(), f.call("pay", "/pay"), f.call("fraud", "/fraud")},
		"edges": []map[string]any{edge("start", "pay"), edge("pay", "fraud")}}, http.StatusOK)
	now := f.do("GET", "/v1/workflows/"+wf, nil, http.StatusOK)["revision"]
	b.open("/console/executions/"+old, "[data-testid=execution-status]")
	b.waitText("[data-testid=revision-notice]", fmt.Sprintf("ran revision %v", ran))
	b.waitText("[data-testid=revision-notice]", fmt.Sprintf("(revision %v)", now))
	b.clean()
}

// TestConsoleReviewRefusalKept: a decision refused because the review was
// decided meanwhile (409 FLK-0521) stays on the page after the reload that
// shows the review resolved.
func TestConsoleReviewRefusalKept(t *testing.T) {
	f := newFixture(t)
	f.fake.Respond("/pay", providertest.Response{Body: `{"posted":true}`})
	wf := f.reviewFlow("decided-elsewhere", map[string]any{"title": "Confirm payee"})
	ex := f.start(wf, map[string]any{"amount": 5})
	f.await(ex, "waiting")
	review := f.reviewOf(wf, ex)["id"].(string)

	b := newBrowser(t, f.base)
	b.open("/console/reviews/"+review, "[data-testid=decide-approve]")
	// Decided elsewhere, then approved here at once: before the page's
	// refresh (every 3 s) shows it decided.
	require.Equal(t, float64(http.StatusCreated), eval[float64](b, `(async () => {
		const r = await fetch("/v1/reviews/`+review+`/decisions", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({decision: "reject"})});
		document.querySelector("[data-testid=decide-approve]").click();
		return r.status })()`, chromedp.EvalAwaitPromise))
	b.waitText("[data-testid=review-status]", "resolved")
	b.waitText("[data-testid=decide-error]", "FLK-0521")
	b.waitText("[data-testid=decide-error]", "not recorded")
	time.Sleep(3500 * time.Millisecond) // past a refresh's period
	b.waitText("[data-testid=decide-error]", "FLK-0521")
	b.clean("409")
}

// TestConsolePagerNextOnce: a double click on Next moves one page on.
func TestConsolePagerNextOnce(t *testing.T) {
	s := newServer(t, map[string]string{})
	wf := s.activeWorkflow("many", []map[string]any{trigger(),
		{"id": "done", "type": "action", "data": map[string]any{"actionType": "set_output", "output": map[string]any{"ok": true}}}},
		[]map[string]any{edge("start", "done")})
	var last string
	for i := 0; i < 45; i++ {
		last = s.start(wf, map[string]any{"i": i})
	}
	s.await(last, "completed")

	b := newBrowser(t, s.base)
	ids := `[...document.querySelectorAll("[data-testid=executions-table] tbody a[href^='/console/executions/']")].map(a => a.getAttribute("href")).join(",")`
	label := `document.querySelector(".pager span").innerText`
	b.open("/console/executions?workflowId="+wf, "[data-testid=executions-table]")
	b.waitFor("page 1", ids+`.split(",").length === 20`)
	page1 := eval[string](b, ids)
	require.True(t, eval[bool](b, `(() => { const n = [...document.querySelectorAll(".pager button")].find(e => e.innerText.includes("Next"));
		n.click(); n.click(); return true })()`))
	b.waitFor("page 2", ids+` !== `+jsString(page1)+` && `+ids+`.split(",").length === 20`)
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, "Page 2", eval[string](b, label))
	page2 := eval[string](b, ids)
	b.clickText(".pager button", "Previous")
	b.waitFor("page 1 again", ids+` === `+jsString(page1))
	require.Equal(t, "Page 1", eval[string](b, label))
	b.clickText(".pager button", "Next")
	b.waitFor("page 2 again", ids+` === `+jsString(page2))
	b.clickText(".pager button", "Next")
	b.waitFor("page 3", ids+`.split(",").length === 5`)
	require.Equal(t, "Page 3", eval[string](b, label))
	b.clean()
}

// TestConsoleEditsKeptAcrossSignIn: the key stops working while a draft is
// edited (a 401 on Save); signed in again, the editor is back with the
// edits, and saving them lands (If-Match of the read they started from).
// "Forget API key" drops unsaved edits.
func TestConsoleEditsKeptAcrossSignIn(t *testing.T) {
	f := newFixture(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": adminKey})
	id := f.do("POST", "/v1/workflows", map[string]any{"name": "draft-under-edit", "nodes": []map[string]any{trigger(), f.call("pay", "/pay")},
		"edges": []map[string]any{edge("start", "pay")}}, http.StatusCreated)["workflowId"].(string)
	b := newBrowser(t, f.base)
	signInWithKey(b, "/console/workflows/"+id, adminKey)
	b.click("[data-testid=edit-json]")
	b.waitFor("the editor", `!!document.querySelector("[data-testid=editor-json]")`)
	edited := eval[string](b, `(() => { const d = JSON.parse(document.querySelector("[data-testid=editor-json]").value);
		d.description = "twenty minutes of careful edits"; return JSON.stringify(d, null, 2) })()`)
	b.setValue("[data-testid=editor-json]", edited)
	eval[bool](b, `(sessionStorage.setItem("flowker.apiKey", "rotated-away-000000000"), true)`)
	b.click("[data-testid=save-json]")
	b.waitFor("the key prompt", `!!document.querySelector("[data-testid=key-prompt]")`)
	b.setValue("[data-testid=key-input]", adminKey)
	b.click("[data-testid=key-submit]")
	b.waitFor("the editor again", `!!document.querySelector("[data-testid=editor-json]")`)
	require.Equal(t, edited, eval[string](b, `document.querySelector("[data-testid=editor-json]").value`), "the edits are back")
	b.waitText("[data-testid=editor-restored]", "unsaved edits")
	b.click("[data-testid=save-json]")
	b.waitFor("the editor closed", `!document.querySelector("[data-testid=editor-json]")`)
	require.Equal(t, "twenty minutes of careful edits", f.do("GET", "/v1/workflows/"+id, nil, http.StatusOK)["description"])

	// Edits, then "Forget API key": not kept for whoever signs in next.
	b.click("[data-testid=edit-json]")
	b.waitFor("the editor", `!!document.querySelector("[data-testid=editor-json]")`)
	b.setValue("[data-testid=editor-json]", strings.Replace(edited, "twenty minutes", "two minutes", 1))
	b.click("[data-testid=sign-out]")
	signInWithKey(b, "/console/workflows/"+id, adminKey)
	b.waitFor("the workflow page", `!!document.querySelector("[data-testid=edit-json]")`)
	require.False(t, eval[bool](b, `!!document.querySelector("[data-testid=editor-json]")`), "no editor after a sign-out")
	b.clean("401")
}
