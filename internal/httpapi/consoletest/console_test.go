package consoletest_test

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

const xssName = `<img src=x onerror=alert(1)>`

// fixture is a server with a fake provider, Tracer and Midaz configurations
// on it, and a workflow from the tracer-midaz-validation template (draft).
type fixture struct {
	*server
	fake     *providertest.Server
	pc       string // an http provider configuration on the fake
	template string // the template workflow's id
	tracer   string // the Tracer provider configuration
	midaz    string // the Midaz provider configuration
}

func newFixture(t *testing.T, env ...map[string]string) *fixture {
	all := map[string]string{"SSRF_ALLOW_PRIVATE": "true"}
	for _, e := range env {
		maps.Copy(all, e)
	}
	s := newServer(t, all)
	fake := providertest.New(t)
	org, ledger := uuid.NewString(), uuid.NewString()
	tracer := s.do("POST", "/v1/provider-configurations", map[string]any{"name": "tracer-prod", "providerId": "tracer",
		"config": map[string]any{"base_url": fake.URL, "api_key": "tracer-key-1234"}}, http.StatusCreated)
	midaz := s.do("POST", "/v1/provider-configurations", map[string]any{"name": "midaz-ledger", "providerId": "midaz",
		"config": map[string]any{"onboarding_base_url": fake.URL, "transaction_base_url": fake.URL,
			"organization_id": org, "ledger_id": ledger}}, http.StatusCreated)
	pc := s.do("POST", "/v1/provider-configurations", map[string]any{"name": "scoring-service", "providerId": "http",
		"config": map[string]any{"base_url": fake.URL}}, http.StatusCreated)
	wf := s.do("POST", "/v1/workflows/from-template", map[string]any{"templateId": "tracer-midaz-validation",
		"params": map[string]any{"workflowName": "card-payments-validation",
			"tracerProviderConfigId": tracer["id"], "midazProviderConfigId": midaz["id"]}}, http.StatusCreated)
	fake.Respond("/v1/validations", providertest.Response{Body: `{"decision":"ALLOW","validationId":"v-1"}`})
	fake.Respond("/v1/organizations/"+org+"/ledgers/"+ledger+"/transactions/json",
		providertest.Response{Status: http.StatusCreated, Body: `{"id":"tx-1"}`})
	return &fixture{server: s, fake: fake, pc: pc["id"].(string), template: wf["workflowId"].(string),
		tracer: tracer["id"].(string), midaz: midaz["id"].(string)}
}

func (f *fixture) call(id, path string) map[string]any {
	return map[string]any{"id": id, "type": "executor", "name": strings.ToUpper(id[:1]) + id[1:] + " check",
		"data": map[string]any{"executorId": "http.request", "providerConfigId": f.pc, "method": "POST", "path": path}}
}

func trigger() map[string]any {
	return map[string]any{"id": "start", "type": "trigger", "name": "API call"}
}

func edge(from, to string) map[string]any {
	return map[string]any{"id": from + "-" + to, "source": from, "target": to}
}

func transaction() map[string]any {
	return map[string]any{"requestId": uuid.NewString(), "transactionType": "PIX", "amount": "125.50", "currency": "BRL",
		"transactionTimestamp": "2026-11-24T10:00:00Z",
		"account":              map[string]any{"accountId": uuid.NewString(), "type": "checking", "status": "active"},
		"transaction":          map[string]any{"asset": "BRL", "value": "125.50"}}
}

// stateOf is the status a node of the drawn graph shows.
func stateOf(node string) string {
	return `(document.querySelector('[data-node-id="` + node + `"]') || {dataset: {}}).dataset.state`
}

func TestConsole(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t, f.base)

	// Dashboard, with the warning that authentication is off.
	b.open("/console", "[data-testid=exec-chart]")
	b.waitText("[data-testid=auth-disabled]", "Authentication is disabled")

	// Workflows: a hostile name is shown as text.
	f.do("POST", "/v1/workflows", map[string]any{"name": xssName, "nodes": []map[string]any{trigger()},
		"edges": []map[string]any{}}, http.StatusCreated)
	b.open("/console/workflows", "[data-testid=workflows-table]")
	b.waitText("[data-testid=workflows-table]", xssName)
	b.waitText("[data-testid=workflows-table]", "card-payments-validation")
	require.Zero(t, eval[int](b, `document.querySelectorAll("main img").length`), "no element from a stored name")
	b.shot("02-workflows")

	// Open the template workflow: its graph, a node's data, activate, start.
	b.clickText("a", "card-payments-validation")
	b.waitText("[data-testid=workflow-name]", "card-payments-validation")
	b.waitFor("4 nodes drawn", `document.querySelectorAll(".react-flow__node").length === 4`)
	b.clickNode("tracer-validate")
	b.waitText("[data-testid=node-details]", "tracer.validate-transaction")
	b.waitText("[data-testid=node-details]", "workflow.amount")
	b.clickNode("decision-check")
	b.waitText("[data-testid=node-details]", `tracer-validate.body.decision == "ALLOW"`)
	b.clickText("button", "Activate")
	b.waitFor("the start form", `!!document.querySelector("[data-testid=start-execution]")`)
	b.shot("03-workflow")
	raw, err := jsonText(transaction())
	require.NoError(t, err)
	b.setValue("[data-testid=input-json]", raw)
	b.click("[data-testid=start-execution]")

	// The execution: completes; node statuses and the timeline.
	b.waitText("[data-testid=execution-status]", "completed")
	b.waitFor("node statuses", stateOf("tracer-validate")+` === "completed" && `+stateOf("midaz-create-tx")+` === "completed"`)
	require.Equal(t, "completed", eval[string](b, stateOf("decision-check")))
	require.Equal(t, 3, eval[int](b, `document.querySelectorAll("[data-testid=timeline] .tl-row").length`))
	b.click(`[data-step="tracer-validate"]`)
	b.waitText("[data-testid=step-tracer-validate]", "ALLOW")
	b.waitText("[data-testid=step-tracer-validate]", "/v1/validations")
	b.shot("04-execution")

	f.parallelAndCancel(t, b)
	f.failureAndHTML(t, b)

	// Executions list, filtered.
	b.open("/console/executions?status=failed", "[data-testid=executions-table]")
	b.waitText("[data-testid=executions-table]", "failed")
	b.open("/console/executions", "[data-testid=executions-table]")
	b.waitText("[data-testid=executions-table]", "cancelled")
	b.shot("07-executions")
	// Time range: from the URL (RFC 3339) into the inputs, and from the
	// inputs (local time) back to the API and the URL as UTC.
	b.open("/console/executions?startedFrom=2999-01-01T00%3A00%3A00.000Z", "[data-testid=executions-table]")
	b.waitText("[data-testid=executions-table]", "No executions.")
	b.waitFor("the from input filled", `document.querySelector("[data-testid=started-from]").value !== ""`)
	b.setValue("[data-testid=started-from]", "2000-01-01T00:00:00")
	b.waitText("[data-testid=executions-table]", "cancelled")
	b.waitFor("startedFrom in the URL as UTC", `new URLSearchParams(location.search).get("startedFrom") === new Date("2000-01-01T00:00:00").toISOString()`)
	b.setValue("[data-testid=started-to]", "2000-01-02T00:00:00")
	b.waitText("[data-testid=executions-table]", "No executions.")

	// Audit: the chain verifies.
	b.open("/console/audit", "[data-testid=audit-table]")
	b.waitText("[data-testid=audit-table]", "WORKFLOW_ACTIVATED")
	b.click("[data-testid=verify-chain]")
	b.waitText("[data-testid=verify-result]", "Chain valid")
	b.shot("08-audit")
	// The event type is chosen from the API's closed list, and filters.
	b.waitText("[data-testid=audit-table]", "WORKFLOW_CREATED")
	b.selectValue("[data-testid=audit-event-type]", "WORKFLOW_ACTIVATED")
	b.waitFor("only activations listed", `!document.querySelector("[data-testid=audit-table]").innerText.includes("WORKFLOW_CREATED")`)
	b.waitText("[data-testid=audit-table]", "WORKFLOW_ACTIVATED")

	// Configurations: a row opens its configuration, secrets as the API masks them.
	b.open("/console/configurations", "[data-testid=configs-table]")
	b.waitText("[data-testid=configs-table]", "scoring-service")
	b.shot("09-configurations")
	b.clickText("td a", "tracer-prod")
	b.waitText("[data-testid=config-values]", "api_key")
	require.NotContains(t, b.bodyText(), "tracer-key-1234", "a secret is never shown")

	f.dashboardSeries(t, b)

	// An unknown console path is the application's own not-found page.
	b.open("/console/nowhere", "main h1")
	b.waitText("main h1", "Not found")
	b.clean()
	copyShot(t, b, "04-execution")
}

// parallelAndCancel: two branches that overlap on the timeline, laid out
// by dagre (no positions); then a held call cancelled from the console.
func (f *fixture) parallelAndCancel(t *testing.T, b *browser) {
	f.fake.Respond("/score", providertest.Response{Body: `{"score":712}`, Delay: 300 * time.Millisecond})
	f.fake.Respond("/sanctions", providertest.Response{Body: `{"hit":false}`, Delay: 300 * time.Millisecond})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.fake.Hold("/slow", release)
	wf := f.activeWorkflow("parallel-checks", []map[string]any{trigger(), f.call("score", "/score"),
		f.call("sanctions", "/sanctions"), f.call("slow", "/slow")},
		[]map[string]any{edge("start", "score"), edge("start", "sanctions"), edge("score", "slow"), edge("sanctions", "slow")})

	ex := f.start(wf, map[string]any{"amount": 10})
	b.open("/console/executions/"+ex, "[data-testid=execution-status]")
	b.waitFor("the held node running", stateOf("slow")+` === "running"`)
	b.waitText("[data-testid=execution-status]", "running")
	// The two branches overlap on the timeline: each starts before the other ends.
	b.waitFor("parallel steps overlapping on the timeline", `(() => { const bars = [...document.querySelectorAll(".tl-bar")].slice(0, 2).map(e => e.getBoundingClientRect());
		return bars.length === 2 && bars[0].left < bars[1].right && bars[1].left < bars[0].right })()`)
	b.shot("05-running")
	b.click("[data-testid=cancel]")
	b.waitText("[data-testid=execution-status]", "cancelled")
	b.waitFor("retry offered", `!!document.querySelector("[data-testid=retry]")`)
}

// failureAndHTML: a failed step's error is shown; a provider answer with
// HTML in it is shown as text and runs nothing.
func (f *fixture) failureAndHTML(t *testing.T, b *browser) {
	f.fake.Respond("/broken", providertest.Response{Status: http.StatusBadRequest, Body: `{"error":"account frozen"}`})
	wf := f.activeWorkflow("broken-provider", []map[string]any{trigger(), f.call("broken", "/broken")},
		[]map[string]any{edge("start", "broken")})
	ex := f.start(wf, nil)
	f.await(ex, "failed")
	b.open("/console/executions/"+ex, "[data-testid=execution-status]")
	b.waitText("[data-testid=execution-status]", "failed")
	b.waitFor("failed node", stateOf("broken")+` === "failed"`)
	b.waitText("[data-testid=execution-error]", "broken")
	b.click(`[data-step="broken"]`)
	b.waitText("[data-testid=step-broken]", "account frozen")
	b.shot("06-failed")

	html := `<img src=x onerror=alert(2)><script>alert(3)</script><b>bold</b>`
	f.fake.Respond("/html", providertest.Response{Body: `{"note":` + jsString(html) + `}`})
	f.fake.Respond("/page", providertest.Response{Header: http.Header{"Content-Type": {"text/html"}}, Body: html})
	wf = f.activeWorkflow(xssName+" v2", []map[string]any{trigger(), f.call("html", "/html"), f.call("page", "/page")},
		[]map[string]any{edge("start", "html"), edge("html", "page")})
	ex = f.start(wf, map[string]any{"comment": xssName})
	f.await(ex, "completed")
	b.open("/console/executions/"+ex, "[data-testid=execution-status]")
	b.waitText("[data-testid=execution-status]", "completed")
	b.click(`[data-step="html"]`)
	b.waitText("[data-testid=step-html]", html)
	b.click(`[data-step="page"]`)
	b.waitText("[data-testid=step-page]", "<script>alert(3)</script>")
	b.waitText("[data-testid=final-output]", "<b>bold</b>")
	require.Zero(t, eval[int](b, `document.querySelectorAll("main img, main b, main script").length`), "provider HTML is inert text")
	require.True(t, strings.Contains(b.bodyText(), xssName), "the workflow's name is shown literally")
}

func TestConsoleAPIKey(t *testing.T) {
	const key = "console-test-key-0123456789"
	s := newServer(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": key})
	b := newBrowser(t, s.base)
	b.open("/console/workflows", "[data-testid=key-prompt]")
	b.waitText("[data-testid=sign-in-reason]", "requires an API key")
	require.False(t, eval[bool](b, `!!document.querySelector("[data-testid=oidc-sign-in]")`), "no OIDC sign-in without a client id")
	b.shot("10-api-key")

	b.setValue("[data-testid=key-input]", "wrong-key-0000000000")
	b.click("[data-testid=key-submit]")
	b.waitText("[data-testid=sign-in-reason]", "refused")

	b.setValue("[data-testid=key-input]", key)
	b.click("[data-testid=key-submit]")
	b.waitFor("the workflows page", `!!document.querySelector("[data-testid=workflows-table]")`)
	b.waitText("[data-testid=actor]", "default")
	require.False(t, eval[bool](b, `!!document.querySelector("[data-testid=auth-disabled]")`))
	require.Equal(t, key, eval[string](b, `sessionStorage.getItem("flowker.apiKey")`))
	require.Zero(t, eval[int](b, `localStorage.length`), "nothing in localStorage")
	require.NotContains(t, eval[string](b, `location.href`), key)

	// A key that stops working (rotated) asks again.
	eval[bool](b, `(sessionStorage.setItem("flowker.apiKey", "rotated-away-000000000"), true)`)
	b.open("/console/executions", "[data-testid=key-prompt]")
	b.waitText("[data-testid=sign-in-reason]", "refused")
	require.Empty(t, eval[string](b, `sessionStorage.getItem("flowker.apiKey") || ""`))

	// "Forget API key" drops it at once.
	b.setValue("[data-testid=key-input]", key)
	b.click("[data-testid=key-submit]")
	b.waitFor("the executions page", `!!document.querySelector("[data-testid=executions-table]")`)
	b.click("[data-testid=sign-out]")
	b.waitFor("the key prompt", `!!document.querySelector("[data-testid=key-prompt]")`)
	require.Empty(t, eval[string](b, `sessionStorage.getItem("flowker.apiKey") || ""`))
	b.clean("401")
}

// copyShot copies a screenshot to docs/console.png when
// CONSOLE_UPDATE_DOCS=1 (the README's picture).
func copyShot(t *testing.T, b *browser, name string) {
	if os.Getenv("CONSOLE_UPDATE_DOCS") != "1" {
		return
	}
	raw, err := os.ReadFile(filepath.Join(b.shots, name+".png"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("..", "..", "..", "docs", "console.png"), raw, 0o644))
}
