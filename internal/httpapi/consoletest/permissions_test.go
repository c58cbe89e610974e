package consoletest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

const (
	adminKey  = "console-admin-key-0123456789"
	readerKey = "console-reader-key-0123456789"
)

// readerPerms is what the read-only caller holds: reading workflows,
// executions, provider configurations, dashboards and the catalog.
const readerPerms = "workflows:read|executions:read|provider-configurations:read|dashboards:read|catalog:read"

// permissionFixture: a server with an admin key and a read-only key, an
// active workflow with a failed execution (retry would be offered), and the
// template workflow (a draft).
func permissionFixture(t *testing.T, env map[string]string) (f *fixture, active, failed string) {
	f = newFixture(t, env)
	f.fake.Respond("/broken", providertest.Response{Status: http.StatusBadRequest, Body: `{"error":"account frozen"}`})
	active = f.activeWorkflow("card-limits", []map[string]any{trigger(), f.call("broken", "/broken")},
		[]map[string]any{edge("start", "broken")})
	failed = f.start(active, nil)
	f.await(failed, "failed")
	return f, active, failed
}

// writeControls lists the write controls present on the page.
var writeControls = `[...document.querySelectorAll("` + strings.Join([]string{"[data-testid=activate]",
	"[data-testid=deactivate]", "[data-testid=back-to-draft]", "[data-testid=edit-json]", "[data-testid=clone]",
	"[data-testid=delete]", "[data-testid=start-execution]", "[data-testid=cancel]", "[data-testid=retry]",
	"[data-testid=run-test]", "[data-testid=new-from-template]", "button[data-testid^=executor-]"}, ", ") +
	`")].map(el => el.dataset.testid)`

func TestConsolePermissions(t *testing.T) {
	f, active, failed := permissionFixture(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": adminKey,
		"API_KEYS": "reader:" + readerKey, "API_KEY_PERMISSIONS": "reader=" + readerPerms})
	b := newBrowser(t, f.base)
	signInWithKey(b, "/console/workflows", readerKey)

	// Who is signed in, and only the pages this key may read.
	b.waitText("[data-testid=actor]", "reader")
	require.Equal(t, []any{"Dashboard", "Workflows", "Executions", "Configurations", "Catalog"},
		eval[[]any](b, `[...document.querySelectorAll(".top nav a")].filter(a => a.getAttribute("href").startsWith("/console")).map(a => a.innerText)`))
	b.waitText("[data-testid=workflows-table]", "card-payments-validation")
	noWrites := func(page string) {
		t.Helper()
		require.Empty(t, eval[[]any](b, writeControls), "write controls on %s", page)
	}
	noWrites("the workflows list")

	b.open("/console/workflows/"+f.template, "[data-testid=workflow-name]")
	b.waitFor("the graph", `document.querySelectorAll(".react-flow__node").length === 4`)
	noWrites("a draft workflow")
	b.open("/console/workflows/"+active, "[data-testid=workflow-name]")
	b.waitText("main .actions", "Executions")
	noWrites("an active workflow")
	b.shot("16-read-only-workflow")
	b.open("/console/executions/"+failed, "[data-testid=execution-status]")
	b.waitText("[data-testid=execution-status]", "failed")
	b.waitText("[data-testid=execution-error]", "broken")
	noWrites("a failed execution")
	b.open("/console/configurations/"+f.tracer, "[data-testid=config-values]")
	noWrites("a provider configuration")
	b.open("/console/catalog", "[data-testid=catalog-detail]")
	b.waitText("[data-testid=schema-fields]", "workflowName")
	require.NotContains(t, b.bodyText(), "Use template")
	// Pages of families it may not read say so.
	b.open("/console/audit", "[data-testid=forbidden]")
	b.waitText("[data-testid=forbidden]", "audit-events:read")
	b.open("/console/executors", "[data-testid=forbidden]")

	// Forced anyway, the API refuses: the console hides, the server decides.
	status := eval[float64](b, `fetch("/v1/workflows/`+active+`/deactivate", {method: "POST",
		headers: {"X-API-Key": sessionStorage.getItem("flowker.apiKey")}}).then(r => r.status)`, chromedp.EvalAwaitPromise)
	require.Equal(t, float64(http.StatusForbidden), status)

	// The admin key sees the write controls.
	b.open("/console/workflows", "[data-testid=workflows-table]")
	b.click("[data-testid=sign-out]")
	signInWithKey(b, "/console/workflows/"+active, adminKey)
	b.waitText("[data-testid=actor]", "default")
	b.waitFor("deactivate and clone", `!!document.querySelector("[data-testid=deactivate]") && !!document.querySelector("[data-testid=clone]")`)
	require.True(t, eval[bool](b, `!!document.querySelector("[data-testid=start-execution]")`))
	b.open("/console/executions/"+failed, "[data-testid=retry]")
	require.Equal(t, 8, eval[int](b, `[...document.querySelectorAll(".top nav a")].filter(a => a.getAttribute("href").startsWith("/console")).length`))
	b.clean("401", "403")
}

// signInWithKey opens path, expects the sign-in screen and enters key.
func signInWithKey(b *browser, path, key string) {
	b.t.Helper()
	b.open(path, "[data-testid=key-input]")
	b.setValue("[data-testid=key-input]", key)
	b.click("[data-testid=key-submit]")
	b.waitFor("signed in", `!!document.querySelector("[data-testid=actor]")`)
}
