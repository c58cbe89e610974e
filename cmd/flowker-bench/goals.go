package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// goals are the targets of the speed issue for one kind of store; the
// SQLite ones are set for synchronous FULL and held to for NORMAL too.
type goals struct {
	perSec           float64       // completed executions/s
	cpu              time.Duration // Flowker's CPU per execution
	syncP50, syncP99 time.Duration
	overhead         time.Duration // engine overhead per step, p50
}

var (
	sqliteGoals = goals{perSec: 2500, cpu: 500 * time.Microsecond, syncP50: 2 * time.Millisecond,
		syncP99: 8 * time.Millisecond, overhead: 300 * time.Microsecond}
	postgresGoals = goals{perSec: 1500, cpu: 600 * time.Microsecond, syncP50: 4 * time.Millisecond,
		syncP99: 12 * time.Millisecond, overhead: 600 * time.Microsecond}
)

func goalsFor(storeKey string) goals {
	if storeKey == "postgres" {
		return postgresGoals
	}
	return sqliteGoals
}

// goalText is one goal for both kinds of store: "≥ 2,500/s (SQLite) /
// ≥ 1,500/s (PG)", or the one text when they agree.
func goalText(f func(goals) string) string {
	s, p := f(sqliteGoals), f(postgresGoals)
	if s == p {
		return s
	}
	return s + " (SQLite) / " + p + " (PG)"
}

// msGoal writes a goal's duration: "0.3 ms", "2 ms".
func msGoal(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", float64(d)/1e6), "0"), ".") + " ms"
}

// table writes the report's main table, a column per store.
type table struct {
	b      *strings.Builder
	stores []storeResult
}

// row writes one measure; a measure no store has (its phase did not run) is
// left out.
func (t *table) row(name, goal string, cell func(storeResult) string) {
	cells, measured := make([]string, len(t.stores)), false
	for i, s := range t.stores {
		cells[i] = cell(s)
		measured = measured || (cells[i] != "—" && cells[i] != "" && cells[i] != "n/a")
	}
	if !measured {
		return
	}
	t.b.WriteString("| " + name + " | " + goal + " |")
	for _, c := range cells {
		t.b.WriteString(" " + c + " |")
	}
	t.b.WriteString("\n")
}

// phaseNotes describes the ceiling, t and h, when they ran, under a's
// description.
func (r *report) phaseNotes(b *strings.Builder) {
	o := r.o
	if o.has('a') && o.ceiling {
		b.WriteString("- Ceiling: `cmd/flowker-ceiling`, the reference workflow's I/O and nothing else (the webhook; " +
			"Tracer then, on ALLOW, Midaz, same requests, same fake; the input, Tracer's answer and the result " +
			"each committed before going on, through one group-commit writer: one SQLite connection with the same " +
			"`synchronous`, or one PostgreSQL connection sending a group as one pipelined batch), on a fresh " +
			"database of the same store each time, under a's load right before Flowker's run and right after it " +
			"(the second with b first, after its own sync calls, timed as b times Flowker's), the two runs added up " +
			"as t adds its runs. Ratios: Flowker's throughput ÷ the ceiling's, and the ceiling's CPU per " +
			"execution ÷ Flowker's (aim ≥ 0.6).\n")
	}
	if o.has('a') && slices.ContainsFunc(r.stores, func(s storeResult) bool { return s.key == "postgres" }) {
		b.WriteString("- PostgreSQL's own work in a (the database shares the two cores): CPU of the server's processes " +
			"behind the bench's database and of its writer processes (`/proc`, a lower bound: a process that exits " +
			"takes its time along), and WAL written (`pg_current_wal_lsn`, the whole cluster's), per execution, " +
			"for Flowker's run and the ceiling's.\n")
	}
	if o.has('t') {
		b.WriteString("- t: a's load on four fresh servers, one after the other: telemetry off, on, on, off. \"On\" is " +
			"`ENABLE_TELEMETRY=true`, exporting traces (every request), metrics (`OTEL_METRIC_EXPORT_INTERVAL=" +
			telemetryMetricInterval + "`) and logs (at the bench's `LOG_LEVEL=warn`) over OTLP/gRPC to an " +
			"OpenTelemetry Collector on loopback (OTLP receiver → debug exporter, nothing written). Ratio: the " +
			"\"on\" runs' executions per second ÷ the \"off\" runs' (executions over time, each side added up).\n")
	}
	if o.has('h') {
		fmt.Fprintf(b, "- h: on a fresh database, a's load once empty; then, server stopped, %s past executions "+
			"seeded with SQL (as Flowker writes them: 2–3 steps, ~3 KB of JSON each, over the last %d days, 4 "+
			"workflows), server started again, and a's load again, counted on the started_at index. Dashboards: "+
			"`GET /v1/dashboards/executions` and `…/executions/series` over the last 24 h (by hour) and 30 days "+
			"(by day) ending at the minute before now, and the summary of the 24 h up to each call's moment, "+
			"%d calls in a row after %d warm-ups, p50.\n",
			thousands(o.historyN), int(historyWindow.Hours()/24), o.dashCalls, dashboardWarmups)
	}
	b.WriteString("\n")
}

// throughputRows are a's rows: throughput and CPU against the goals, and
// as ratios to the ceiling.
func (r *report) throughputRows(t *table) {
	t.row("a. completed executions/s", goalText(func(g goals) string { return "≥ " + thousands(int(g.perSec)) + "/s" }),
		func(s storeResult) string {
			if !s.tp.measured() {
				return "—"
			}
			v := perSec(s.tp.perSec)
			if s.tp.timedOut {
				v += " (incomplete)"
			}
			return v + mark(s.tp.perSec >= goalsFor(s.key).perSec && s.tp.ok())
		})
	t.row("   webhook calls accepted/s", "", func(s storeResult) string { return perSec(s.tp.acceptPerSec) })
	t.row("a. flowker CPU per execution", goalText(func(g goals) string { return "≤ " + msGoal(g.cpu) }),
		func(s storeResult) string {
			return msOrDash(s.tp.cpuPerExec) + markIf(s.tp.cpuPerExec > 0, s.tp.cpuPerExec <= goalsFor(s.key).cpu)
		})
	t.row("   ceiling: completed executions/s / CPU per execution", "", func(s storeResult) string {
		if !s.ceiling.measured() {
			return "—"
		}
		return perSec(s.ceiling.perSec) + " / " + msOrDash(s.ceiling.cpuPerExec)
	})
	t.row("   ceiling: each run, before / after Flowker's", "", func(s storeResult) string {
		if !s.ceiling.measured() {
			return "—"
		}
		return perSec(s.ceilingRuns[0].perSec) + " / " + perSec(s.ceilingRuns[1].perSec)
	})
	t.row("   PostgreSQL's own CPU / WAL per execution: flowker's, the ceiling's", "", func(s storeResult) string {
		if s.tp.pg == nil && s.ceiling.pg == nil {
			return "—"
		}
		return s.tp.pg.text() + "; " + s.ceiling.pg.text()
	})
	aim := fmt.Sprintf("≥ %.1f (aim)", ceilingAim)
	t.row("a. throughput ÷ ceiling's", aim, func(s storeResult) string {
		tp, _ := ceilingRatios(s)
		if tp == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", tp) + mark(tp >= ceilingAim && s.tp.ok() && s.ceiling.ok())
	})
	t.row("a. ceiling's CPU per execution ÷ flowker's", aim, func(s storeResult) string {
		_, cpu := ceilingRatios(s)
		if cpu == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", cpu) + mark(cpu >= ceilingAim)
	})
}

// telemetryRows are t's rows.
func (r *report) telemetryRows(t *table) {
	t.row("t. throughput, telemetry on ÷ off", fmt.Sprintf("≥ %.2f", telemetryGoal), func(s storeResult) string {
		ratio := telemetryRatio(s)
		if ratio == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f (%s ÷ %s)", ratio, perSec(s.telemetryOn.perSec), perSec(s.telemetryOff.perSec)) +
			mark(ratio >= telemetryGoal && s.telemetryOn.ok() && s.telemetryOff.ok() && s.telemetryErr == nil)
	})
	t.row("   each run, in order: off, on, on, off", "", func(s storeResult) string {
		var runs []string
		for _, r := range s.telemetryRuns {
			runs = append(runs, map[bool]string{true: perSec(r.perSec), false: "—"}[r.measured()])
		}
		return strings.Join(runs, ", ")
	})
	t.row("   flowker CPU per execution, telemetry on / collector's", "", func(s storeResult) string {
		if !s.telemetryOn.measured() {
			return "—"
		}
		return msOrDash(s.telemetryOn.cpuPerExec) + " / " + msOrDash(s.collectorCPUPerExec)
	})
	t.row("   spans received by the collector, per execution", "", func(s storeResult) string {
		n := s.telemetryOn.completed + s.telemetryOn.failed
		if s.collectorSpans == 0 || n == 0 {
			return "—"
		}
		return fmt.Sprintf("%s, %.1f", thousands(int(s.collectorSpans)), float64(s.collectorSpans)/float64(n))
	})
}

// historyRows are h's rows. Its goals are for 5,000,000 past executions and
// dashboards over 1,000,000: with fewer, the figures are shown unmarked.
func (r *report) historyRows(t *table) {
	o := r.o
	t.row("h. throughput with "+thousands(o.historyN)+" past executions ÷ empty database",
		fmt.Sprintf("≥ %.1f (with %s)", historyGoal, thousands(historyGoalN)), func(s storeResult) string {
			h := s.history
			if h.ratio() == 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f (%s ÷ %s)", h.ratio(), perSec(h.full.perSec), perSec(h.empty.perSec)) +
				markIf(h.seeded >= historyGoalN, h.ratio() >= historyGoal && h.full.ok() && h.empty.ok())
		})
	t.row("   flowker CPU per execution, with history / empty", "", func(s storeResult) string {
		h := s.history
		if !h.full.measured() {
			return "—"
		}
		return msOrDash(h.full.cpuPerExec) + " / " + msOrDash(h.empty.cpuPerExec)
	})
	t.row("   seeding them (database size after)", "", func(s storeResult) string {
		h := s.history
		if h.seeded == 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f s, %s/s (%.1f GiB); its writes flushed to disk before the run in %.0f s",
			h.seedTime.Seconds(), thousands(int(float64(h.seeded)/h.seedTime.Seconds())),
			float64(h.storeBytes)/(1<<30), h.flush.Seconds())
	})
	t.row("   dashboard count changes not folded: after seeding → at the run", "", func(s storeResult) string {
		h := s.history
		if h.changesSeeded == 0 {
			return "—"
		}
		return fmt.Sprintf("%s → %s (waited %.0f s)", thousands(int(h.changesSeeded)), thousands(int(h.changesLeft)),
			h.settle.Seconds())
	})
	for i, dash := range dashboards {
		t.row("h. dashboard "+dash.name+", p50 (p90)", fmt.Sprintf("≤ %s (over %s)", msGoal(dashboardGoal), thousands(dashboardGoalN)),
			func(s storeResult) string {
				if i >= len(s.history.dashboards) || s.history.dashboards[i].n == 0 {
					return "—"
				}
				d := s.history.dashboards[i]
				return fmt.Sprintf("%s (%s), %s in range", msOrDash(d.p50), msOrDash(d.p90), thousands(int(d.executions))) +
					markIf(s.history.stored >= dashboardGoalN, d.p50 <= dashboardGoal)
			})
	}
}
