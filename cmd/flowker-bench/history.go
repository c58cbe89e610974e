package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Phase h: a database with history. On a fresh server (a new SQLite file,
// or a new PostgreSQL schema) phase a's load runs once on the empty
// database; the server is stopped, -history-n past executions are seeded
// with SQL (seed.go), the server is started again on the same database and
// the load runs again, counted on the started_at index (a count of every
// execution each 20 ms would be the largest load on the machine). Then the
// execution dashboards are timed over everything stored.

// Goals: throughput with 5,000,000 past executions ≥ 0.9 of the empty
// database's; each dashboard ≤ 10 ms at p50 over 1,000,000 executions.
const (
	historyGoal      = 0.9
	historyGoalN     = 5000000
	dashboardGoal    = 10 * time.Millisecond
	dashboardGoalN   = 1000000
	historyWindow    = 90 * 24 * time.Hour // the past executions' started_at span
	dashboardWarmups = 2
)

type historyResult struct {
	seeded     int           // past executions seeded
	stored     int64         // executions in the database for the second run
	seedTime   time.Duration // seeding, with PostgreSQL's VACUUM ANALYZE
	storeBytes int64         // database size after seeding
	// count changes (execution_count_changes) not folded yet: after the
	// seeding, and when the second run started
	changesSeeded, changesLeft int64
	settle                     time.Duration // waited for the server to fold them
	flush                      time.Duration // writing the seeding's dirty pages to disk
	empty, full                throughput
	dashboards                 []dashTiming
	err                        error
}

// ratio is throughput with the history ÷ on the empty database (0: not
// measured).
func (h historyResult) ratio() float64 {
	if !h.empty.measured() || !h.full.measured() {
		return 0
	}
	return h.full.perSec / h.empty.perSec
}

// dashTiming is one dashboard query timed.
type dashTiming struct {
	label      string
	executions int64 // in its range, as the summary counts them
	n          int
	p50, p90   time.Duration
	max        time.Duration
	err        error
}

func measureHistory(ctx context.Context, o options, f *fake, st *benchStore, work string) (res historyResult) {
	ctx, cancel := context.WithTimeout(ctx, o.historyTimeout)
	defer cancel()
	hst, err := storeFor(ctx, st.key, o) // a database of its own: the others are dropped with their data
	if err != nil {
		res.err = err
		return res
	}
	defer hst.cleanup()
	dir := filepath.Join(work, "history")
	defer os.RemoveAll(dir) // gigabytes: not kept until the end of the store
	env := serverEnv(o, hst, dir, loadQueue(o))

	progress("%s: history, empty database: %d async webhook calls from %d clients", st.label, o.n, o.c)
	srv, err := startServer(ctx, o.bin, dir, env...)
	if err != nil {
		res.err = err
		return res
	}
	defer func() { srv.stop() }() // the server running at the time
	hook, err := setupWorkflow(ctx, srv.base, f.url)
	if err != nil {
		res.err = err
		return res
	}
	webhookPath := strings.TrimPrefix(hook, srv.base)
	db, err := hst.open(dir)
	if err != nil {
		res.err = err
		return res
	}
	res.empty = runLoad(ctx, o, st.label+" empty database", srv.pid(), executionsSince(db, hst), nil, hook)
	var workflow string
	var revision int
	var before int64
	err = db.QueryRowContext(ctx, `SELECT workflow_id, workflow_revision, (SELECT count(*) FROM executions)
		FROM executions LIMIT 1`).Scan(&workflow, &revision, &before)
	db.Close() // SQLite: the seeding needs the file to itself
	if err != nil {
		res.err = fmt.Errorf("reading the bench's workflow: %w", err)
		return res
	}
	srv.stop()

	if o.historyN > 0 {
		progress("%s: seeding %s past executions over the last %d days", st.label, thousands(o.historyN),
			int(historyWindow.Hours()/24))
		started := time.Now()
		res.seeded, err = seed(ctx, hst, dir, newSeedPlan(o.historyN, workflow, revision, time.Now(), historyWindow))
		res.seedTime = time.Since(started)
		if err != nil {
			res.err = err
			return res
		}
	}
	res.stored = before + int64(res.seeded)

	if srv, err = startServer(ctx, o.bin, dir, env...); err != nil {
		res.err = fmt.Errorf("restarting on the seeded database: %w", err)
		return res
	}
	if db, err = hst.open(dir); err != nil {
		res.err = err
		return res
	}
	defer db.Close()
	// One synchronous execution first, as the first server's setup ran: the
	// run is not of a cold process.
	if _, raw, err := post(ctx, &http.Client{Timeout: 30 * time.Second}, srv.base+webhookPath+"?wait=5s", transaction(0)); err != nil {
		res.err = fmt.Errorf("first execution after the restart: %w", err)
		return res
	} else if !strings.Contains(string(raw), `"status":"completed"`) {
		res.err = fmt.Errorf("first execution after the restart: not completed: %.200s", raw)
		return res
	}
	res.storeBytes, _ = storeBytes(ctx, hst, db)
	res.changesSeeded, res.changesLeft, res.settle = settleCountChanges(ctx, st.label, db)
	res.flush = flushSeeding(ctx, st.label, hst, db)
	progress("%s: history, %s executions stored (%.1f GiB): %d async webhook calls from %d clients", st.label,
		thousands(int(res.stored)), float64(res.storeBytes)/(1<<30), o.n, o.c)
	res.full = runLoad(ctx, o, st.label+" with history", srv.pid(), executionsSince(db, hst), nil, srv.base+webhookPath)
	if ctx.Err() == nil {
		res.dashboards = timeDashboards(ctx, o, st.label, srv.base)
	}
	if ctx.Err() != nil && res.err == nil {
		res.err = fmt.Errorf("phase h stopped: %w (-history-timeout %s)", ctx.Err(), o.historyTimeout)
	}
	return res
}

// settleCountChanges lets the server fold the seeding's count changes.
// Flowker keeps its dashboard counts with triggers that append a row to
// execution_count_changes per change of an execution, folded into rollups
// by the server as it goes. The seeding leaves one per execution, which a
// server running all along would have folded: wait while the server folds
// them, until fewer than 1,000 remain or none were folded for 15 s. A
// schema without the table: zeros.
// flushSeeding writes what seeding left in memory to disk before the run
// is timed: the seeding wrote gigabytes without syncing (PostgreSQL's
// dirty buffers, the kernel's dirty pages), and their write-back would
// otherwise compete with the run's own fsyncs for the disk, which a
// database that grew over months does not have to do. PostgreSQL
// checkpoints, then the kernel syncs every file system.
func flushSeeding(ctx context.Context, label string, st *benchStore, db *sql.DB) time.Duration {
	started := time.Now()
	if st.key == "postgres" {
		if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil {
			progress("%s: CHECKPOINT before the run: %v", label, err)
		}
	}
	syscall.Sync()
	took := time.Since(started)
	progress("%s: seeding's writes flushed to disk in %s", label, took.Round(time.Millisecond))
	return took
}

func settleCountChanges(ctx context.Context, label string, db *sql.DB) (before, after int64, waited time.Duration) {
	count := func() (int64, error) {
		var n int64
		return n, db.QueryRowContext(ctx, `SELECT count(*) FROM execution_count_changes`).Scan(&n)
	}
	before, err := count()
	if err != nil || before < 1000 {
		return before, before, 0
	}
	started, lastFold, after := time.Now(), time.Now(), before
	for after >= 1000 && time.Since(lastFold) < 15*time.Second && ctx.Err() == nil {
		sleep(ctx, 3*time.Second)
		n, err := count()
		if err != nil {
			break
		}
		if n < after {
			lastFold = time.Now()
		}
		after = n
	}
	waited = time.Since(started)
	progress("%s: count changes not folded: %s after seeding, %s after waiting %s", label, thousands(int(before)),
		thousands(int(after)), waited.Round(time.Second))
	return before, after, waited
}

// dashboards are those phase h times, in the report's order: each call's
// path, given the minute the phase began in and the call's own moment.
var dashboards = []struct {
	name string
	path func(minute, call time.Time) string
}{
	{"summary, last 24 h", func(m, _ time.Time) string { return summaryPath + dashSpan(oneDay, m, time.RFC3339) }},
	{"summary, last 30 days", func(m, _ time.Time) string { return summaryPath + dashSpan(thirtyDays, m, time.RFC3339) }},
	{"series by hour, last 24 h", func(m, _ time.Time) string {
		return seriesPath + "interval=hour&" + dashSpan(oneDay, m, time.RFC3339)
	}},
	{"series by day, last 30 days", func(m, _ time.Time) string {
		return seriesPath + "interval=day&" + dashSpan(thirtyDays, m, time.RFC3339)
	}},
	{"summary, last 24 h until the call", func(_, call time.Time) string {
		return summaryPath + dashSpan(oneDay, call, time.RFC3339Nano)
	}},
}

const (
	summaryPath        = "/v1/dashboards/executions?"
	seriesPath         = "/v1/dashboards/executions/series?"
	oneDay, thirtyDays = 24 * time.Hour, 30 * 24 * time.Hour
)

// dashSpan is the query of the range of length d ending at end.
func dashSpan(d time.Duration, end time.Time, layout string) string {
	return "startTime=" + url.QueryEscape(end.Add(-d).Format(layout)) +
		"&endTime=" + url.QueryEscape(end.Format(layout))
}

// timeDashboards times the execution dashboards, the way a console opens
// them: the summary and the series over the last 24 hours (by hour) and
// the last 30 days (by day), ending at the minute before now, each
// -dash-calls times in a row after warm-ups; and the summary over the 24
// hours up to each call's own moment, as a client asking "until now" does.
func timeDashboards(ctx context.Context, o options, label, base string) []dashTiming {
	minute := time.Now().UTC().Truncate(time.Minute)
	out := make([]dashTiming, len(dashboards))
	for i := range out {
		out[i].label = dashboards[i].name
	}
	c := &http.Client{Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	for i := range out {
		d := &out[i]
		var lat []time.Duration
		for call := range dashboardWarmups + o.dashCalls {
			path := dashboards[i].path(minute, time.Now().UTC())
			start := time.Now()
			code, raw, err := get(ctx, c, base+path)
			took := time.Since(start)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("status %d: %.200s", code, raw)
			}
			if err != nil {
				d.err = fmt.Errorf("GET %s: %w", path, err)
				break
			}
			if call == 0 && strings.HasPrefix(d.label, "summary") {
				var sum struct {
					Total int64 `json:"total"`
				}
				if err := json.Unmarshal(raw, &sum); err == nil {
					d.executions = sum.Total
				}
			}
			if call >= dashboardWarmups {
				lat = append(lat, took)
			}
		}
		d.n = len(lat)
		d.p50, d.p90, d.max = pct(lat, 0.5), pct(lat, 0.9), pct(lat, 1)
		switch i { // a series has its summary's executions, over the same range
		case 2:
			d.executions = out[0].executions
		case 3:
			d.executions = out[1].executions
		}
		progress("%s: dashboard %s (%s executions): p50 %s, p90 %s", label, d.label, thousands(int(d.executions)),
			ms(d.p50), ms(d.p90))
	}
	return out
}

// historyErrors are the phase's problems, for the report's notes.
func (h historyResult) errors() error {
	errs := []error{h.err, h.empty.err, h.full.err}
	for _, d := range h.dashboards {
		errs = append(errs, d.err)
	}
	return errors.Join(errs...)
}
