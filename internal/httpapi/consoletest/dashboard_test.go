package consoletest_test

import (
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// dashboardSeries: executions over time, one series call in the browser's
// time zone (São Paulo here, so local midnight is not UTC's), bars stacked
// by status; the range selector; a bar opens its bucket's executions.
func (f *fixture) dashboardSeries(t *testing.T, b *browser) {
	_, err := chromedp.Call(b.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/Sao_Paulo"})
	require.NoError(t, err)
	b.open("/console", "[data-testid=exec-chart]")
	b.waitText("[data-testid=exec-chart]", "Total")
	bars := `[...document.querySelectorAll("[data-testid=exec-series] .series-bar")]`
	b.waitFor("14 daily bars", bars+`.length === 14`)
	b.waitText("[data-testid=series-summary]", "America/Sao_Paulo")
	b.waitFor("this test's executions counted", bars+`.reduce((n, el) => n + Number(el.dataset.count), 0) > 0`)
	require.True(t, eval[bool](b, bars+`.every(el => { const d = new Date(el.dataset.start); return d.getHours() === 0 && d.getMinutes() === 0 })`),
		"daily buckets start at local midnight")
	require.True(t, eval[bool](b, `["completed", "failed", "cancelled"].every(s => !!document.querySelector("[data-testid=exec-series] .series-seg[data-status=" + s + "]"))`),
		"bars are stacked by status")
	b.shot("01-dashboard")

	b.click(`[data-testid=series-range] [data-range="24h"]`)
	b.waitFor("24 hourly bars", bars+`.length === 24 && document.querySelector("[data-testid=exec-series]").dataset.interval === "hour"`)
	// Summed, not the newest bar: a run that crosses the hour starts an empty one.
	b.waitFor("the last 24 hours counted", bars+`.reduce((n, el) => n + Number(el.dataset.count), 0) > 0`)
	b.click(`[data-testid=series-range] [data-range="90d"]`)
	b.waitFor("90 daily bars", bars+`.length === 90`)
	b.shot("01-dashboard-90-days")

	// A day's bar opens the list filtered to that day (to its last microsecond).
	b.click(`[data-testid=series-range] [data-range="14d"]`)
	b.waitFor("14 daily bars", bars+`.length === 14`)
	b.waitFor("a bar to click", `(() => { const bar = `+bars+`.find(el => Number(el.dataset.count) > 0);
		if (!bar) return false; bar.click(); return true })()`)
	b.waitFor("the executions list for that day", `location.pathname === "/console/executions" &&
		new URLSearchParams(location.search).get("startedTo").endsWith(".999999Z") &&
		new Date(new URLSearchParams(location.search).get("startedFrom")).getHours() === 0`)
	b.waitFor("that day's executions listed", `!!document.querySelector("[data-testid=executions-table] a")`)
}
