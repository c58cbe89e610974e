package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type report struct {
	o                      options
	date                   time.Time
	commit, machine, goVer string
	loadBefore, loadAfter  string
	pgVersion              string
	stores                 []storeResult
	skipped                []string
	ready                  readyResult
}

func newReport(o options) *report {
	r := &report{o: o, date: time.Now().UTC(), goVer: runtime.Version(), loadBefore: loadAvg()}
	r.commit = o.commit
	if r.commit == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output(); err == nil {
			r.commit = strings.TrimSpace(string(out))
		} else {
			r.commit = "unknown"
		}
	}
	r.machine = machine()
	return r
}

func (r *report) add(s storeResult) { r.stores = append(r.stores, s) }
func (r *report) finish()           { r.loadAfter = loadAvg() }

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " / ")
}

func machine() string {
	cpu, mem := "unknown CPU", ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if kb, err := memTotalKiB(); err == nil {
		mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
	}
	kernel := "Linux"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel += " " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (%s)%s, %s", runtime.NumCPU(), cpu, mem, kernel)
}

func memTotalKiB() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no MemTotal")
}

// markdown is the run's report: a heading, the setting, one table with the
// goals beside the figures, and notes on anything that went wrong.
func (r *report) markdown() string {
	var b strings.Builder
	o := r.o
	fmt.Fprintf(&b, "### %s · commit %s\n\n", r.date.Format("2006-01-02 15:04 UTC"), r.commit)
	fmt.Fprintf(&b, "- Machine: %s; load average %s before the run, %s after "+
		"(other work on the machine distorts the figures).\n", r.machine, r.loadBefore, r.loadAfter)
	pg := "not measured"
	if r.pgVersion != "" {
		pg = r.pgVersion + " on 127.0.0.1 (fsync on, synchronous_commit on)"
	}
	fmt.Fprintf(&b, "- %s; PostgreSQL %s. flowker, the bench's clients and its fake provider share the machine.\n", r.goVer, pg)
	if strings.ContainsAny(o.phases, "abcdeth") {
		r.mainMarkdown(&b)
	}

	var notes []string
	for _, s := range r.stores {
		for _, e := range []struct {
			what string
			err  error
		}{{"a", s.tp.err}, {"a, ceiling", s.ceiling.err}, {"b/c", s.syncErr}, {"d", s.mem.err}, {"d′", s.memBounded.err},
			{"t", errors.Join(s.telemetryErr, s.telemetryOff.err, s.telemetryOn.err)}, {"h", s.history.errors()}} {
			if e.err != nil {
				notes = append(notes, fmt.Sprintf("%s, %s: %v", s.label, e.what, e.err))
			}
		}
		if s.tp.failed > 0 || s.mem.failed > 0 || s.memBounded.failed > 0 {
			notes = append(notes, fmt.Sprintf("%s: executions failed: %d in a, %d in d, %d in d′", s.label,
				s.tp.failed, s.mem.failed, s.memBounded.failed))
		}
		for _, t := range []struct {
			what string
			tp   throughput
		}{{"a", s.tp}, {"a, ceiling", s.ceiling}, {"t, telemetry off", s.telemetryOff}, {"t, telemetry on", s.telemetryOn},
			{"h, empty database", s.history.empty}, {"h, with history", s.history.full}} {
			if t.tp.retries503 > 0 {
				notes = append(notes, fmt.Sprintf("%s, %s: %d answers 503 (queue full), retried", s.label, t.what, t.tp.retries503))
			}
			if t.what != "a" && (t.tp.failed > 0 || t.tp.timedOut) {
				notes = append(notes, fmt.Sprintf("%s, %s: %d executions failed%s", s.label, t.what, t.tp.failed,
					map[bool]string{true: ", not all finished in time", false: ""}[t.tp.timedOut]))
			}
		}
		if s.syncErrors > 0 {
			notes = append(notes, fmt.Sprintf("%s, b: %d synchronous calls did not complete in time", s.label, s.syncErrors))
		}
	}
	if r.ready.err != nil {
		notes = append(notes, fmt.Sprintf("e: %v", r.ready.err))
	}
	for _, k := range r.skipped {
		notes = append(notes, k+": skipped (no PostgreSQL URL: set BENCH_DATABASE_URL or run PostgreSQL on 127.0.0.1:5432)")
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString("- " + strings.ReplaceAll(n, "\n", " ") + "\n")
		}
	}
	r.waitingMarkdown(&b)
	b.WriteString("\n")
	return b.String()
}

// mainMarkdown is the report's table for phases a to e: the goals beside
// the figures.
func (r *report) mainMarkdown(b *strings.Builder) {
	o := r.o
	b.WriteString("- Workflow: template `tracer-midaz-validation` (webhook → `tracer.validate-transaction` → " +
		"condition on the decision → `midaz.create-transaction`: 3 steps, 2 HTTP calls), fake Tracer and Midaz " +
		"in the bench process answering at once with small JSON (ALLOW, 201).\n")
	fmt.Fprintf(b, "- a: %s async webhook calls from %d clients, timed from the first call until the database "+
		"counts all of them finished. b/c: %s synchronous calls (`?wait=5s`) from one client after %d warm-up; "+
		"overhead per step = (end-to-end − time inside the fake, per execution) / steps, at p50 (the ceiling's: "+
		"the same over its 3 steps, the floor its commits and calls set). "+
		"d: %s executions in flight at once (`ENGINE_CONCURRENCY=%d`; accepted and unfinished together, "+
		"calling the provider as many at once as its limit `ENGINE_PROVIDER_CONCURRENCY` lets): the fake "+
		"answers after %s and holds its answers until all have reached it (at most 20 s); drain = release "+
		"to all finished; d′: the same "+
		"executions with `ENGINE_CONCURRENCY=%d` (the rest wait in the queue), drain = last submission to all finished. e: exec to the first 200 from "+
		"`/health/ready`, empty SQLite database, %d runs.\n",
		thousands(o.n), o.c, thousands(o.syncN), o.syncWarmup, thousands(o.rssN), o.rssN, o.rssDelay, o.rssBounded, o.readyRuns)
	r.phaseNotes(b)

	b.WriteString("| measure | goal |")
	sep := "|---|---|"
	for _, s := range r.stores {
		b.WriteString(" " + s.label + " |")
		sep += "---|"
	}
	b.WriteString("\n" + sep + "\n")
	t := &table{b: b, stores: r.stores}
	row := t.row
	r.throughputRows(t)
	row("b. sync p50", goalText(func(g goals) string { return "≤ " + msGoal(g.syncP50) }), func(s storeResult) string {
		return msOrDash(s.syncP50) + markIf(s.syncN > 0, s.syncP50 <= goalsFor(s.key).syncP50)
	})
	row("b. sync p99", goalText(func(g goals) string { return "≤ " + msGoal(g.syncP99) }), func(s storeResult) string {
		return msOrDash(s.syncP99) + markIf(s.syncN > 0, s.syncP99 <= goalsFor(s.key).syncP99)
	})
	row("   ceiling: sync p50 / p99", "", func(s storeResult) string {
		if s.ceilingSyncP50 == 0 {
			return "—"
		}
		return msOrDash(s.ceilingSyncP50) + " / " + msOrDash(s.ceilingSyncP99)
	})
	row("   sync p90 / max", "", func(s storeResult) string {
		if s.syncN == 0 {
			return "—"
		}
		return msOrDash(s.syncP90) + " / " + msOrDash(s.syncMax)
	})
	row("c. engine overhead per step, p50", goalText(func(g goals) string { return "≤ " + msGoal(g.overhead) }),
		func(s storeResult) string {
			return msOrDash(s.overheadP50) + markIf(s.syncN > 0, s.overheadP50 <= goalsFor(s.key).overhead)
		})
	row("   ceiling: overhead per step, p50", "", func(s storeResult) string { return msOrDash(s.ceilingOverheadP50) })
	row("   time inside the fake per execution, p50", "", func(s storeResult) string { return msOrDash(s.providerP50) })
	row("   flowker / ceiling CPU per synchronous call", "", func(s storeResult) string {
		return msOrDash(s.syncCPU) + " / " + msOrDash(s.ceilingSyncCPU)
	})
	memRows := func(label string, pick func(storeResult) memResult, goal bool) {
		have := false
		for _, s := range r.stores {
			have = have || pick(s).accepted > 0
		}
		if !have {
			return
		}
		g := ""
		if goal {
			g = "≤ 200 MiB"
		}
		row(label, g, func(s storeResult) string {
			m := pick(s)
			if m.hwm == 0 {
				return "—"
			}
			v := fmt.Sprintf("%.0f MiB", float64(m.hwm)/1024)
			// The goal is for 10,000 in flight: accepted and unfinished at
			// once. How many call the provider at once is the engine's
			// per-provider limit (ENGINE_PROVIDER_CONCURRENCY), shown below.
			if goal && o.rssN >= 10000 {
				v += mark(m.hwm <= 200*1024 && m.peakUnfinished >= o.rssN)
			}
			return v
		})
		row("   in flight at once: calling the provider / unfinished", "", func(s storeResult) string {
			m := pick(s)
			if m.accepted == 0 {
				return "—"
			}
			return thousands(int(m.peakCalling)) + " / " + thousands(m.peakUnfinished)
		})
		row("   submitting / draining them", "", func(s storeResult) string {
			m := pick(s)
			if m.accepted == 0 {
				return "—"
			}
			v := fmt.Sprintf("%.1f s / %.1f s", m.submit.Seconds(), m.drain.Seconds())
			if m.timedOut {
				v += " (incomplete)"
			}
			return v
		})
	}
	memRows("d. peak RSS, "+thousands(o.rssN)+" in flight (`ENGINE_CONCURRENCY="+strconv.Itoa(o.rssN)+"`)",
		func(s storeResult) memResult { return s.mem }, true)
	memRows("d′. peak RSS, "+thousands(o.rssN)+" accepted, `ENGINE_CONCURRENCY="+strconv.Itoa(o.rssBounded)+"`",
		func(s storeResult) memResult { return s.memBounded }, false)
	row("   peak RSS after a (burst of "+thousands(o.n)+")", "", func(s storeResult) string {
		if s.tp.rssAfter == 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f MiB", float64(s.tp.rssAfter)/1024)
	})
	r.telemetryRows(t)
	r.historyRows(t)
	// e is measured once, on SQLite's default settings: shown in the first SQLite column.
	readyCol := ""
	for _, s := range r.stores {
		if strings.HasPrefix(s.label, "SQLite") {
			readyCol = s.label
			break
		}
	}
	readyText := "—"
	switch {
	case r.ready.err != nil:
		readyText = "error"
	case r.ready.runs > 0:
		readyText = fmt.Sprintf("%s (%s–%s)", ms(r.ready.p50), ms(r.ready.min), ms(r.ready.max)) +
			mark(r.ready.p50 <= 300*time.Millisecond)
	}
	if len(r.stores) > 0 {
		row("e. ready, empty SQLite, p50 (min–max)", "≤ 300 ms", func(s storeResult) string {
			if s.label == readyCol {
				return readyText
			}
			return "n/a"
		})
	} else {
		fmt.Fprintf(b, "| e. ready, empty SQLite, p50 (min–max) | ≤ 300 ms | %s |\n", readyText)
	}
}

func mark(ok bool) string {
	if ok {
		return " ✓"
	}
	return " ✗"
}

func markIf(measured, ok bool) string {
	if !measured {
		return ""
	}
	return mark(ok)
}

func msOrDash(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1f ms", float64(d)/1e6)
}

func perSec(v float64) string {
	if v == 0 {
		return "—"
	}
	return thousands(int(v+0.5)) + "/s"
}

// thousands writes n with comma separators: 20000 → 20,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

const (
	sectionBegin = "<!-- flowker-bench:begin — cmd/flowker-bench (make bench) adds each run above the end marker; other sections belong outside these markers -->"
	sectionEnd   = "<!-- flowker-bench:end -->"
)

const sectionIntro = `## Engine: the reference workflow (` + "`make bench`" + `)

` + sectionBegin + `

Measured by ` + "`cmd/flowker-bench`" + ` (` + "`make bench`" + `, or ` + "`bash scripts/bench.sh`" + `) against the goals of
PRODUCT.md §6, on SQLite (` + "`SQLITE_SYNCHRONOUS=FULL`" + ` and ` + "`NORMAL`" + `) and, when reachable,
PostgreSQL. Every figure is durable: a step is committed before the next one starts. The machine
is whatever ran the command, usually shared; compare runs by their load average. Newest run last.

`

// appendReport adds md to path inside this command's section, creating the
// file or the section when needed, and leaving everything else untouched.
func appendReport(path, md string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(old)
	end := strings.Index(text, sectionEnd)
	if !strings.Contains(text, sectionBegin) || end < 0 {
		if text == "" {
			text = "# Benchmarks\n\n"
		} else if !strings.HasSuffix(text, "\n\n") {
			text = strings.TrimRight(text, "\n") + "\n\n"
		}
		text += sectionIntro + sectionEnd + "\n"
		end = strings.Index(text, sectionEnd)
	}
	text = text[:end] + md + text[end:]
	return os.WriteFile(path, []byte(text), 0o644) //nolint:gosec // documentation, world-readable like the repo
}
