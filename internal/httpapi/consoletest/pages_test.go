package consoletest_test

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// TestConsoleConfigurationsAndCatalog: executor configurations (list,
// details with masked secrets, connectivity test, lifecycle), a provider
// configuration's connectivity test (passing and failing stages), and the
// catalog with a template's parameters and "Use template".
func TestConsoleConfigurationsAndCatalog(t *testing.T) {
	f := newFixture(t)
	f.fake.Respond("/down", providertest.Response{Status: http.StatusServiceUnavailable, Body: `{"error":"maintenance"}`})
	down := f.do("POST", "/v1/provider-configurations", map[string]any{"name": "fraud-score-dr", "providerId": "http",
		"config": map[string]any{"base_url": f.fake.URL + "/down"}}, http.StatusCreated)["id"].(string)
	kyc := f.do("POST", "/v1/executors", map[string]any{"name": "kyc-service", "description": "KYC checks for new accounts",
		"baseUrl": f.fake.URL, "endpoints": []map[string]any{{"name": "check", "path": "/v1/check", "method": "POST", "timeout": 10},
			{"name": "status", "path": "/v1/status", "method": "GET", "timeout": 5}},
		"authentication": map[string]any{"type": "bearer", "config": map[string]any{"token": "kyc_live_abcdef12"}}},
		http.StatusCreated)["id"].(string)
	f.do("POST", "/v1/executors", map[string]any{"name": "sanctions-screening", "baseUrl": f.fake.URL,
		"endpoints":      []map[string]any{{"name": "screen", "path": "/screen", "method": "POST"}},
		"authentication": map[string]any{"type": "none"}}, http.StatusCreated)
	b := newBrowser(t, f.base)

	// Executors: the list, then one configuration's details.
	b.open("/console/executors", "[data-testid=executors-table]")
	b.waitText("[data-testid=executors-table]", "sanctions-screening")
	b.waitText("[data-testid=executors-table]", "kyc-service")
	b.clickText("td a", "kyc-service")
	b.waitText("[data-testid=executor-name]", "kyc-service")
	b.waitText("[data-testid=executor-endpoints]", "/v1/check")
	b.waitText("[data-testid=executor-details]", "****ef12")
	require.NotContains(t, b.bodyText(), "kyc_live_abcdef12", "a secret is never shown")
	// Lifecycle from the console: configure, test (passes: tested), activate.
	// Exact text: "unconfigured" contains "configured", and a test run
	// before the configure committed leaves the executor untested.
	// The test button waits while an action is in flight: a test started
	// then would test the configuration as it was. (React renders the
	// click's state in a microtask; the action's answer, network I/O,
	// cannot arrive before the microtasks that follow it.)
	require.True(t, eval[bool](b, `(async () => {
		document.querySelector("[data-testid=executor-configure]").click();
		await Promise.resolve(); await Promise.resolve();
		return document.querySelector("[data-testid=run-test]").disabled })()`,
		chromedp.EvalAwaitPromise), "test button held during an action")
	b.waitExactText("[data-testid=lifecycle] .current", "configured")
	b.click("[data-testid=run-test]")
	b.waitFor("three passed stages", `document.querySelectorAll("[data-testid=test-result] .stage[data-status=passed]").length === 3`)
	b.waitExactText("[data-testid=lifecycle] .current", "tested")
	b.click("[data-testid=executor-activate]")
	b.waitExactText("[data-testid=lifecycle] .current", "active")
	require.Equal(t, "active", f.do("GET", "/v1/executors/"+kyc, nil, http.StatusOK)["status"])
	b.shot("12-executor")
	b.open("/console/executors", "[data-testid=executors-table]")
	b.waitText("[data-testid=executors-table]", "active")
	b.shot("13-executors")

	// A provider configuration's connectivity test: stages with results.
	b.open("/console/configurations/"+f.tracer, "[data-testid=config-values]")
	b.click("[data-testid=run-test]")
	b.waitFor("the stages", `document.querySelectorAll("[data-testid=test-result] .stage").length === 3`)
	for _, stage := range []string{"connectivity", "authentication", "end_to_end"} {
		require.Equal(t, "passed", eval[string](b, `document.querySelector("[data-stage=`+stage+`]").dataset.status`), stage)
	}
	b.waitText("[data-stage=authentication]", "Authentication successful")
	require.NotContains(t, b.bodyText(), "tracer-key-1234")
	b.open("/console/configurations/"+down, "[data-testid=config-values]")
	b.click("[data-testid=run-test]")
	b.waitText("[data-stage=connectivity]", "unexpected status code: 503")
	require.Equal(t, "failed", eval[string](b, `document.querySelector("[data-stage=connectivity]").dataset.status`))
	require.Equal(t, "skipped", eval[string](b, `document.querySelector("[data-stage=end_to_end]").dataset.status`))
	b.waitText("[data-testid=test-result]", "All tests failed")
	b.shot("14-connectivity-test")

	// Catalog: templates with their parameters, providers, executors, triggers.
	b.open("/console/catalog", "[data-testid=catalog-list]")
	b.clickText(".catalog-item", "Tracer Validation + Midaz Transaction")
	b.waitText("[data-testid=catalog-detail]", "Tracer Validation + Midaz Transaction")
	b.waitText("[data-testid=schema-fields]", "tracerProviderConfigId")
	b.waitText("[data-testid=schema-fields]", "required")
	b.shot("15-catalog")
	b.clickText("[role=tab]", "Providers")
	b.clickText(".catalog-item", "Tracer")
	b.waitText("[data-testid=schema-fields]", "api_key")
	b.waitText("[data-testid=schema-fields]", "secret")
	b.waitText("[data-testid=catalog-detail]", "tracer.validate-transaction")
	b.clickText("[data-testid=catalog-detail] a", "Validate Transaction") // an executor of the provider
	b.waitFor("the executors tab", `new URLSearchParams(location.search).get("tab") === "executors"`)
	b.waitText("[data-testid=catalog-detail]", "tracer.validate-transaction")
	b.clickText("[role=tab]", "Triggers")
	b.waitText("[data-testid=catalog-list]", "webhook")

	// "Use template" opens the create-from-template form on that template.
	b.open("/console/catalog?tab=templates&id=tracer-midaz-validation", "[data-testid=catalog-detail]")
	b.clickText("[data-testid=catalog-detail] a", "Use template")
	b.waitFor("the form with the template's parameters", `location.pathname === "/console/workflows" &&
		(document.querySelector("[data-testid=template-params]") || {}).value.includes("tracerProviderConfigId")`)
	require.Equal(t, "tracer-midaz-validation", eval[string](b, `document.querySelector("[data-testid=template-select]").value`))
	b.clean()
}
