// Command flowker-bench measures the engine on the reference workflow of
// PRODUCT.md §6: webhook → tracer.validate-transaction (HTTP) → condition
// on the decision → midaz.create-transaction (HTTP), the template
// tracer-midaz-validation, against a fake Tracer and Midaz served by this
// process on loopback and answering at once.
//
// For each store (SQLite with SQLITE_SYNCHRONOUS=FULL and NORMAL, and
// PostgreSQL when -pg-url is given) it starts the flowker binary -bin and
// measures:
//
//	a. completed executions per second: -n async webhook calls from -c
//	   clients, timed from the first call until the database counts them
//	   all finished;
//	b. synchronous mode p50/p99: -sync-n calls from one client with ?wait=5s,
//	   and the server's CPU (user+sys) per call;
//	c. engine overhead per step at p50: (end-to-end latency − time spent in
//	   the fake, as the fake measures it) / steps of the execution;
//	d. peak RSS (VmHWM) with -rss-n executions in flight while the fake
//	   answers after -rss-delay (and holds every answer until all of them
//	   are in flight), and the time to drain them; then the same with only
//	   -rss-bounded of them running at once (the rest accepted and queued);
//	e. ready time: exec to the first 200 from /health/ready on an empty
//	   SQLite database, -ready-runs times;
//	f. waiting (not in the default -phases): -wait-n executions parked at a
//	   review (webhook → review → Tracer on approve), RSS idle / peak /
//	   settled with all of them waiting, the review inbox's latency, and
//	   -wait-resume of them approved and timed to completion (waiting.go);
//	t. telemetry: a's load on servers exporting traces, metrics and logs
//	   over OTLP to a real OpenTelemetry Collector (-otelcol-bin), as a
//	   ratio to the same load with telemetry off, run side by side: off,
//	   on, on, off (telemetry.go);
//	h. history (not in the default -phases): a's load on an empty database,
//	   then again with -history-n past executions seeded with SQL, and the
//	   dashboards' latency over them (history.go, seed.go).
//
// With a, the same load also runs against cmd/flowker-ceiling (-ceiling-bin),
// the reference workflow's I/O and nothing else, on the same store: the
// report gives Flowker's throughput and CPU per execution as ratios to it
// (ceiling.go; -ceiling=false skips it).
//
// The report is Markdown on stdout (progress goes to stderr); with
// -report-file it is also added to that file, inside its own section.
// Everything is bounded: -phase-timeout per phase (-wait-timeout for f),
// -max-time overall;
// every server is stopped and every temporary directory removed at the end,
// and on SIGINT/SIGTERM.
//
//	go build -o bin/flowker ./cmd/flowker
//	go run ./cmd/flowker-bench -bin bin/flowker -pg-url postgres://postgres@127.0.0.1:5432/bench?sslmode=disable
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	bin, stores, pgURL, reportFile, commit string
	phases                                 string
	n, c, syncN, syncWarmup, rssN, rssC    int
	rssBounded                             int
	readyRuns                              int
	rssDelay, phaseTimeout, maxTime        time.Duration
	waitN, waitC, waitResume               int
	waitTimeout, waitSettle                time.Duration
	env                                    envList
	ceiling                                bool
	ceilingBin, otelcolBin                 string
	historyN, dashCalls                    int
	historyTimeout                         time.Duration
}

// envList is a repeatable -env KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/flowker", "flowker binary to benchmark")
	flag.StringVar(&o.stores, "stores", "sqlite-full,sqlite-normal,postgres",
		"stores to measure, comma-separated: sqlite-full, sqlite-normal, postgres (needs -pg-url)")
	flag.StringVar(&o.pgURL, "pg-url", os.Getenv("BENCH_DATABASE_URL"),
		"PostgreSQL database to use (a fresh schema is created in it and dropped); empty skips PostgreSQL")
	flag.IntVar(&o.n, "n", 20000, "throughput: async executions")
	flag.IntVar(&o.c, "c", 64, "throughput: concurrent clients")
	flag.IntVar(&o.syncN, "sync-n", 2000, "sync mode: measured calls (one client)")
	flag.IntVar(&o.syncWarmup, "sync-warmup", 100, "sync mode: unmeasured calls first")
	flag.IntVar(&o.rssN, "rss-n", 10000, "memory: executions in flight")
	flag.IntVar(&o.rssC, "rss-c", 64, "memory: concurrent clients submitting them")
	flag.IntVar(&o.rssBounded, "rss-bounded", 1000,
		"memory, second run: the same executions with ENGINE_CONCURRENCY at this (0 skips it)")
	flag.DurationVar(&o.rssDelay, "rss-delay", time.Second, "memory: provider answer delay")
	flag.IntVar(&o.readyRuns, "ready-runs", 10, "ready time: cold starts on an empty SQLite database")
	flag.DurationVar(&o.phaseTimeout, "phase-timeout", 3*time.Minute, "give up on one phase after this long")
	flag.IntVar(&o.waitN, "wait-n", 100000, "waiting: executions parked at a review")
	flag.IntVar(&o.waitC, "wait-c", 64, "waiting: concurrent clients submitting them, and approving")
	flag.IntVar(&o.waitResume, "wait-resume", 1000, "waiting: reviews approved afterwards, timed until their executions finish")
	flag.DurationVar(&o.waitTimeout, "wait-timeout", 15*time.Minute, "waiting: give up on phase f (one store) after this long")
	flag.DurationVar(&o.waitSettle, "wait-settle", 5*time.Second, "waiting: idle time before each settled RSS reading")
	flag.BoolVar(&o.ceiling, "ceiling", true, "a: run the same load against the ceiling (cmd/flowker-ceiling) too")
	flag.StringVar(&o.ceilingBin, "ceiling-bin", "", "the ceiling's binary (default: flowker-ceiling beside -bin)")
	flag.StringVar(&o.otelcolBin, "otelcol-bin", defaultOtelcol(),
		"t: OpenTelemetry Collector binary (default: $FLOWKER_OTELCOL_BIN, else ~/.cache/flowker-otelcol/otelcol-file)")
	flag.IntVar(&o.historyN, "history-n", 5000000, "history: past executions seeded before the second run")
	flag.DurationVar(&o.historyTimeout, "history-timeout", 45*time.Minute, "history: give up on phase h (one store) after this long")
	flag.IntVar(&o.dashCalls, "dash-calls", 50, "history: calls timed per dashboard query")
	flag.DurationVar(&o.maxTime, "max-time", 30*time.Minute,
		"give up on the whole run after this long (with phase f or h, -wait-timeout or -history-timeout per store is added unless set)")
	flag.StringVar(&o.reportFile, "report-file", "", "also add the report to this Markdown file (e.g. docs/benchmarks.md)")
	flag.StringVar(&o.commit, "commit", "", "commit being measured (default: git describe --always --dirty)")
	flag.StringVar(&o.phases, "phases", defaultPhases,
		"phases to run: a throughput (and the ceiling), b/c sync and overhead, d memory, e ready time, "+
			"f waiting executions, t telemetry on vs off, h history (past executions, dashboards)")
	flag.StringVar(&logDir, "logs", "", "keep the servers' logs in this directory (default: removed with the run)")
	flag.Var(&o.env, "env", "extra KEY=VALUE for every flowker started, after the bench's own (repeatable)")
	flag.Parse()
	maxTimeSet := false
	flag.Visit(func(fl *flag.Flag) { maxTimeSet = maxTimeSet || fl.Name == "max-time" })
	stores := time.Duration(strings.Count(o.stores, ",") + 1)
	if o.has('f') && !maxTimeSet {
		o.maxTime += stores * o.waitTimeout
	}
	if o.has('h') && !maxTimeSet {
		o.maxTime += stores * o.historyTimeout
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "flowker-bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.n < 1 || o.c < 1 || o.syncN < 1 || o.rssN < 1 || o.rssC < 1 || o.readyRuns < 0 {
		return errors.New("-n, -c, -sync-n, -rss-n and -rss-c must be at least 1")
	}
	if o.waitN < 1 || o.waitC < 1 || o.waitResume < 0 {
		return errors.New("-wait-n and -wait-c must be at least 1, -wait-resume at least 0")
	}
	if o.historyN < 0 || o.dashCalls < 1 {
		return errors.New("-history-n must be at least 0, -dash-calls at least 1")
	}
	bin, err := filepath.Abs(o.bin) // servers run in their own directories
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("-bin: %w (build it: go build -o bin/flowker ./cmd/flowker)", err)
	}
	o.bin = bin
	if o.ceiling && o.has('a') {
		if o.ceilingBin == "" {
			o.ceilingBin = filepath.Join(filepath.Dir(bin), "flowker-ceiling")
		}
		if o.ceilingBin, err = filepath.Abs(o.ceilingBin); err != nil {
			return err
		}
		if _, err := os.Stat(o.ceilingBin); err != nil {
			return fmt.Errorf("-ceiling-bin: %w (build it: go build -o bin/flowker-ceiling ./cmd/flowker-ceiling; "+
				"or -ceiling=false)", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.maxTime)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "flowker-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	f, err := startFake()
	if err != nil {
		return err
	}
	defer f.close()

	rep := newReport(o)
	for _, name := range strings.Split(o.stores, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		st, err := storeFor(ctx, name, o)
		if err != nil {
			return err
		}
		if st == nil {
			progress("%s: skipped (no -pg-url / BENCH_DATABASE_URL)", name)
			rep.skipped = append(rep.skipped, name)
			continue
		}
		if st.version != "" {
			rep.pgVersion = st.version
		}
		res := measureStore(ctx, o, f, st)
		st.cleanup()
		rep.add(res)
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() == nil && o.readyRuns > 0 && o.has('e') {
		rep.ready = measureReady(ctx, o, work)
	}
	rep.finish()
	md := rep.markdown()
	fmt.Print(md)
	if o.reportFile != "" {
		if err := appendReport(o.reportFile, md); err != nil {
			return err
		}
		progress("report added to %s", o.reportFile)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopped early: %w", err)
	}
	return nil
}

func (o options) has(phase byte) bool { return strings.IndexByte(o.phases, phase) >= 0 }

// defaultPhases leaves out f and h, which take 15 minutes or more per store.
const defaultPhases = "abcdet"

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...)
}
