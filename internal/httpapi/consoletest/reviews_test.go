package consoletest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// The identities of the review test: two analysts who may decide every
// review but the compliance group's (bob) or any (alice), and an auditor
// who may only read reviews.
const (
	aliceKey   = "console-alice-key-0123456789"
	bobKey     = "console-bob-key-0123456789"
	auditorKey = "console-auditor-key-0123456789"
)

// reviewNode is a review node named name with data.
func reviewNode(id, name string, data map[string]any) map[string]any {
	return map[string]any{"id": id, "type": "review", "name": name, "data": data}
}

func outputNode(id string, output map[string]any) map[string]any {
	return map[string]any{"id": id, "type": "action", "name": "Rejected",
		"data": map[string]any{"actionType": "set_output", "output": output}}
}

func handleEdge(from, to, handle string) map[string]any {
	e := edge(from, to)
	e["sourceHandle"] = handle
	return e
}

// reviewFlow: trigger → review (data) → approve: a call to /pay; reject:
// set_output {decision: REJECT}.
func (f *fixture) reviewFlow(name string, data map[string]any) string {
	return f.activeWorkflow(name, []map[string]any{trigger(), reviewNode("review", "Analyst review", data),
		f.call("pay", "/pay"), outputNode("rejected", map[string]any{"decision": "REJECT"})},
		[]map[string]any{edge("start", "review"), handleEdge("review", "pay", "approve"), handleEdge("review", "rejected", "reject")})
}

// reviewOf is the review of execution ex (open or not).
func (f *fixture) reviewOf(workflowID, ex string) map[string]any {
	f.t.Helper()
	list := f.do("GET", "/v1/reviews?limit=100&workflowId="+url.QueryEscape(workflowID), nil, http.StatusOK)
	for _, it := range list["items"].([]any) {
		if r := it.(map[string]any); r["executionId"] == ex {
			return r
		}
	}
	f.t.Fatalf("no review of execution %s", ex)
	return nil
}

// TestConsoleReviews: the inbox, a four-eyes review decided in the console
// by two people (the same one twice refused), the execution waiting at its
// review node and completing after the second approval, hostile context
// values shown as text, a read-only key without decision buttons, and a
// group review its non-members may not decide.
func TestConsoleReviews(t *testing.T) {
	f := newFixture(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": adminKey,
		"API_KEYS":            "alice:" + aliceKey + ",bob:" + bobKey + ",auditor:" + auditorKey,
		"API_KEY_PERMISSIONS": "bob=reviews:decide|executions:read|workflows:read|dashboards:read,auditor=reviews:read"})
	f.fake.Respond("/pay", providertest.Response{Body: `{"posted":true,"ledgerEntry":"le-1"}`})
	context := []map[string]any{{"source": "workflow.customer", "target": "customer"},
		{"source": "workflow.amount", "target": "amount"}, {"source": "workflow.country", "target": "destinationCountry"},
		{"source": "workflow.note", "target": "analystNote"}, {"source": "workflow.risk", "target": "risk"}}
	transfer := f.reviewFlow("large-transfer-review", map[string]any{"title": "Large transfer: confirm the customer",
		"instructions": "Check the customer's documents against the transfer.\nApprove only when the beneficiary is known.",
		"context":      context, "requiredApprovals": 2, "deadline": "48h", "defaultDecision": "reject"})
	sanctions := f.reviewFlow("sanctions-screening", map[string]any{"title": "Possible sanctions hit",
		"group": "compliance", "context": context[:3]})

	ex := f.start(transfer, map[string]any{"customer": "Maria Souza", "amount": "48,250.00 BRL", "country": "PT",
		"note": xssName, "risk": map[string]any{"score": 71, "reasons": []string{"new beneficiary", "amount above limit"}}})
	other := f.start(transfer, map[string]any{"customer": "João Lima", "amount": "12,900.00 BRL", "country": "BR", "note": "-"})
	hit := f.start(sanctions, map[string]any{"customer": "Acme Trading Ltd", "amount": "310,000.00 BRL", "country": "AE"})
	for _, id := range []string{ex, other, hit} {
		f.await(id, "waiting")
	}
	review := f.reviewOf(transfer, ex)["id"].(string)
	hitReview := f.reviewOf(sanctions, hit)["id"].(string)

	// The inbox: three open tasks, the header's count, filters.
	b := newBrowser(t, f.base)
	signInWithKey(b, "/console/reviews", aliceKey)
	rows := `document.querySelectorAll("[data-testid=reviews-table] tr[data-review-id]").length`
	b.waitFor("three open reviews", rows+` === 3`)
	b.waitText("[data-testid=reviews-badge]", "3")
	b.waitText("[data-testid=reviews-table]", "Large transfer: confirm the customer")
	b.waitText("[data-testid=reviews-table]", "compliance")
	b.waitText(`[data-review-id="`+review+`"] [data-testid=approvals]`, "0 of 2")
	b.waitText(`[data-review-id="`+review+`"]`, "in 47 h")
	b.waitText(`[data-review-id="`+review+`"]`, "large-transfer-review") // the workflow's name
	b.waitText(`[data-review-id="`+review+`"] [data-testid=review-preview]`, "Maria Souza")
	b.waitText(`[data-review-id="`+review+`"] [data-testid=review-preview]`, xssName)
	require.Zero(t, eval[int](b, `document.querySelectorAll("main img, main script").length`), "a context value is inert text")
	b.shot("20-reviews")
	b.setValue("[data-testid=review-group]", "compliance")
	b.waitFor("the compliance review only", rows+` === 1`)
	b.waitText("[data-testid=reviews-table]", "Possible sanctions hit")
	b.setValue("[data-testid=review-group]", "")
	b.selectValue("[data-testid=review-workflow]", transfer)
	b.waitFor("the transfer reviews only", rows+` === 2`)
	b.click(`[data-testid=review-status] [data-status=resolved]`)
	b.waitText("[data-testid=reviews-table]", "No reviews.")
	require.Equal(t, "resolved", eval[string](b, `new URLSearchParams(location.search).get("status")`))
	b.click(`[data-testid=review-status] [data-status=open]`)
	b.waitFor("the transfer reviews again", rows+` === 2`)

	// The review: its context as inert text; alice approves: 1 of 2.
	b.click(`[data-review-id="` + review + `"] a.review-title`)
	b.waitText("[data-testid=review-title]", "Large transfer: confirm the customer")
	b.waitText("[data-testid=review-instructions]", "beneficiary is known")
	b.waitText("[data-testid=review-context]", xssName)
	b.waitText("[data-testid=review-context]", "Maria Souza")
	b.waitText("[data-testid=review-context]", "new beneficiary")
	require.Zero(t, eval[int](b, `document.querySelectorAll("main img, main script").length`), "a context value is inert text")
	require.Equal(t, []any{"decide-approve", "decide-reject"}, eval[[]any](b, `[...document.querySelectorAll("[data-testid=decide] button")].map(b => b.dataset.testid)`))
	b.setValue("[data-testid=decide-comment]", "Documents match the customer record.")
	b.click("[data-testid=decide-approve]")
	b.waitText("[data-testid=decide-result]", "1 of 2 approvals")
	b.waitText("[data-testid=review-status]", "open")
	b.waitText("[data-testid=review-votes]", "alice")
	b.waitText("[data-testid=review-votes]", "Documents match the customer record.")
	b.waitText("[data-testid=decide-mine]", "You decided “approve”")
	// Alice again: refused by the API, its words shown.
	b.click("[data-testid=decide-approve]")
	b.waitText("[data-testid=decide-error]", "FLK-0522")
	b.waitText("[data-testid=decide-error]", "already decided")
	b.waitText("[data-testid=approvals]", "1 of 2")
	b.shot("21-review")

	// The execution waits at its review node, which links to the review.
	b.open("/console/executions/"+ex, "[data-testid=execution-status]")
	b.waitText("[data-testid=execution-status]", "waiting")
	b.waitFor("the review node waiting", stateOf("review")+` === "waiting"`)
	require.Equal(t, "not reached", eval[string](b, stateOf("pay")))
	b.waitText("[data-testid=waiting-banner]", "1 of 2 approvals")
	b.clickNode("review")
	b.waitText("[data-testid=wait-view]", "Approvals needed")
	b.waitFor("the link to the review", `(document.querySelector("[data-testid=review-link]") || {}).pathname === "/console/reviews/`+review+`"`)
	b.shot("22-execution-waiting")
	b.click("[data-testid=open-review]")
	b.waitText("[data-testid=review-title]", "Large transfer")

	// Executions: waiting in the filter and with its own colour.
	b.open("/console/executions?status=waiting", "[data-testid=executions-table]")
	b.waitFor("the three waiting executions", `document.querySelectorAll("[data-testid=executions-table] .status-waiting").length === 3`)
	require.Contains(t, eval[[]any](b, `[...document.querySelectorAll("[data-testid=status-filter] option")].map(o => o.value)`), "waiting")

	// The auditor reads reviews and may not decide.
	b.click("[data-testid=sign-out]")
	signInWithKey(b, "/console/reviews/"+review, auditorKey)
	b.waitText("[data-testid=review-title]", "Large transfer")
	b.waitText("[data-testid=decide-readonly]", "reviews:decide")
	require.Zero(t, eval[int](b, `document.querySelectorAll("[data-testid=decide], [data-testid^=decide-] button, button[data-testid^=decide-]").length`))
	require.Equal(t, []any{"Reviews"}, eval[[]any](b, `[...document.querySelectorAll(".top nav a")].filter(a => a.getAttribute("href").startsWith("/console")).map(a => a.firstChild.textContent)`))
	b.waitText("[data-testid=actor]", "read only")
	status := eval[float64](b, `fetch("/v1/reviews/`+review+`/decisions", {method: "POST", headers: {"Content-Type": "application/json",
		"X-API-Key": sessionStorage.getItem("flowker.apiKey")}, body: JSON.stringify({decision: "approve"})}).then(r => r.status)`, chromedp.EvalAwaitPromise)
	require.Equal(t, float64(http.StatusForbidden), status)
	b.shot("23-review-read-only")
	b.open("/console/reviews", "[data-testid=reviews-table]")
	b.waitFor("the inbox", rows+` === 3`)

	// A second tab watches the execution as the admin while bob decides.
	watch := b.tab()
	signInWithKey(watch, "/console/executions/"+ex, adminKey)
	watch.waitText("[data-testid=execution-status]", "waiting")

	// Bob: not in the compliance group, so no buttons on its review.
	b.click("[data-testid=sign-out]")
	signInWithKey(b, "/console/reviews/"+hitReview, bobKey)
	b.waitText("[data-testid=decide-readonly]", "reviews:decide:compliance")
	require.Zero(t, eval[int](b, `document.querySelectorAll("[data-testid=decide]").length`))
	// Bob approves the transfer: resolved, and the execution goes on.
	b.open("/console/reviews/"+review, "[data-testid=decide]")
	b.click("[data-testid=decide-approve]")
	b.waitText("[data-testid=review-outcome]", "Decided: approve by alice and bob")
	b.waitText("[data-testid=review-status]", "resolved")
	b.waitText("[data-testid=review-votes]", "bob")
	require.Zero(t, eval[int](b, `document.querySelectorAll("[data-testid=decide]").length`), "no buttons once resolved")
	b.shot("24-review-resolved")
	watch.waitText("[data-testid=execution-status]", "completed")
	watch.waitFor("the review and the call completed", stateOf("review")+` === "completed" && `+stateOf("pay")+` === "completed"`)
	require.Equal(t, "skipped", eval[string](watch, stateOf("rejected")))
	watch.clickNode("review")
	watch.waitFor("the completed review node linking to its review", `(document.querySelector("[data-testid=review-link]") || {}).pathname === "/console/reviews/`+review+`"`)
	watch.waitText("[data-testid=step-review]", "approve")
	watch.shot("25-execution-after-review")

	// The dashboard knows waiting; the header's count went down to 2.
	watch.open("/console", "[data-testid=exec-chart]")
	watch.waitText("[data-testid=exec-chart]", "waiting")
	watch.waitFor("two open reviews on the dashboard", `document.querySelector("[data-testid=reviews-card] .big")?.innerText === "2"`)
	watch.waitText("[data-testid=reviews-badge]", "2")
	watch.shot("26-dashboard-reviews")
	watch.clean("401")
	// 401: each sign-in starts without a key; 409: alice's second approval.
	b.clean("401", "status of 409 (Conflict)", "status of 403 (Forbidden)")
}
