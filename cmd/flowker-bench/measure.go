package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// storeResult is every figure measured on one store; a phase that could not
// run leaves its error.
type storeResult struct {
	key, label string

	// a. throughput, and the same load on the ceiling (ceiling.go): run
	// before and after Flowker's, and the two added up; with the ceiling's
	// synchronous latency when b runs
	tp, ceiling                    throughput
	ceilingRuns                    [2]throughput
	ceilingSyncP50, ceilingSyncP99 time.Duration
	ceilingSyncCPU                 time.Duration // per call
	ceilingOverheadP50             time.Duration // per step, as c

	// b/c. synchronous mode
	syncP50, syncP90  time.Duration
	syncP99, syncMax  time.Duration
	syncN, syncErrors int
	providerP50       time.Duration // time in the fake per execution, p50
	overheadP50       time.Duration // per step
	syncCPU           time.Duration // the server's CPU (user+sys) per measured call
	syncErr           error

	// d. memory: all running at once, then (d′) with bounded concurrency
	mem, memBounded memResult

	// f. waiting executions (waiting.go)
	wait waitResult

	// t. telemetry off and on (telemetry.go): each run in telemetryOrder,
	// and the runs of each side added up
	telemetryRuns             [len(telemetryOrder)]throughput
	telemetryOn, telemetryOff throughput
	collectorCPUPerExec       time.Duration
	collectorSpans            int64 // spans the collector accepted during the run
	telemetryErr              error

	// h. history: throughput on an empty database and with -history-n past
	// executions, and the dashboards over them (history.go)
	history historyResult
}

// measureStore runs phases b/c and a on one server, then the ceiling, t,
// d, f and h, each on fresh ones.
func measureStore(ctx context.Context, o options, f *fake, st *benchStore) storeResult {
	res := storeResult{key: st.key, label: st.label}
	work, err := os.MkdirTemp("", "flowker-bench-"+st.key+"-")
	if err != nil {
		res.tp.err, res.syncErr, res.mem.err, res.wait.err = err, err, err, err
		return res
	}
	defer os.RemoveAll(work)

	ceiling := o.has('a') && o.ceiling
	if ceiling {
		res.ceilingRuns[0] = ceilingRun(ctx, o, f, st, work, "before", false, &res)
	}
	if ctx.Err() == nil && (o.has('a') || o.has('b') || o.has('c')) {
		measureMain(ctx, o, f, st, work, &res)
	}
	if ctx.Err() == nil && ceiling {
		res.ceilingRuns[1] = ceilingRun(ctx, o, f, st, work, "after", o.has('b'), &res)
		res.ceiling = sumRuns(res.ceilingRuns[:]...)
	}
	if ctx.Err() == nil && o.has('t') {
		measureTelemetry(ctx, o, f, st, work, &res)
	}
	if ctx.Err() == nil && o.has('d') {
		res.mem = measureMemoryPhase(ctx, o, f, st, work, o.rssN)
		if o.rssBounded > 0 && o.rssBounded < o.rssN && ctx.Err() == nil {
			res.memBounded = measureMemoryPhase(ctx, o, f, st, work, o.rssBounded)
		}
	}
	if ctx.Err() == nil && o.has('f') {
		res.wait = measureWaiting(ctx, o, f, st, work)
	}
	if ctx.Err() == nil && o.has('h') {
		res.history = measureHistory(ctx, o, f, st, work)
	}
	return res
}

// loadQueue is the ENGINE_QUEUE_SIZE of a server taking phase a's load:
// room for the whole burst, so there are no 503s.
func loadQueue(o options) string { return "ENGINE_QUEUE_SIZE=" + strconv.Itoa(max(10000, o.n)) }

// measureMain runs b/c then a on one server.
func measureMain(ctx context.Context, o options, f *fake, st *benchStore, work string, res *storeResult) {
	progress("%s: starting flowker", st.label)
	srv, hook, db, err := bootServer(ctx, o, st, filepath.Join(work, "main"), referenceWorkflow(f), loadQueue(o))
	if err != nil {
		res.tp.err, res.syncErr = err, err
		return
	}
	defer srv.stop()
	defer db.Close()
	if o.has('b') || o.has('c') {
		progress("%s: sync mode, %d calls after %d warm-up, one client", st.label, o.syncN, o.syncWarmup)
		measureSync(ctx, o, f, srv.pid(), hook, res)
	}
	if o.has('a') {
		progress("%s: throughput, %d async webhook calls from %d clients", st.label, o.n, o.c)
		res.tp = runLoad(ctx, o, st.label, srv.pid(), allExecutions(db), st.pgDB(db), hook)
	}
}

// measureMemoryPhase runs d on a fresh server sized for it: room for
// rssN executions, concurrency of them running at once.
func measureMemoryPhase(ctx context.Context, o options, f *fake, st *benchStore, work string, concurrency int) memResult {
	res := memResult{concurrency: concurrency}
	progress("%s: memory, %d executions, %d running at once, provider answering after %s",
		st.label, o.rssN, concurrency, o.rssDelay)
	srv, hook, db, err := bootServer(ctx, o, st, filepath.Join(work, "rss-"+strconv.Itoa(concurrency)), referenceWorkflow(f),
		"ENGINE_CONCURRENCY="+strconv.Itoa(concurrency), "ENGINE_QUEUE_SIZE="+strconv.Itoa(o.rssN))
	if err != nil {
		res.err = err
		return res
	}
	defer srv.stop()
	defer db.Close()
	measureMemory(ctx, o, f, srv, db, hook, &res)
	progress("%s: %d accepted in %s, at most %d unfinished and %d calling the provider at once, peak RSS %.1f MiB, "+
		"drained %s after release (%d failed)", st.label, res.accepted, res.submit.Round(time.Millisecond),
		res.peakUnfinished, res.peakCalling, float64(res.hwm)/1024, res.drain.Round(time.Millisecond), res.failed)
	return res
}

// bootServer starts flowker in dir with the extra settings, makes its
// workflow with setup (which returns the webhook URL) and opens its
// database; on an error nothing is left running.
func bootServer(ctx context.Context, o options, st *benchStore, dir string,
	setup func(ctx context.Context, base string) (string, error), extra ...string,
) (*server, string, *sql.DB, error) {
	srv, err := startServer(ctx, o.bin, dir, serverEnv(o, st, dir, extra...)...)
	if err != nil {
		return nil, "", nil, err
	}
	hook, err := setup(ctx, srv.base)
	if err == nil {
		var db *sql.DB
		if db, err = st.open(dir); err == nil {
			return srv, hook, db, nil
		}
	}
	srv.stop()
	return nil, "", nil, err
}

// referenceWorkflow is the setup of the reference workflow for bootServer.
func referenceWorkflow(f *fake) func(context.Context, string) (string, error) {
	return func(ctx context.Context, base string) (string, error) { return setupWorkflow(ctx, base, f.url) }
}

func serverEnv(o options, st *benchStore, dir string, extra ...string) []string {
	env := []string{"LOG_LEVEL=warn", "SSRF_ALLOW_PRIVATE=true"} // logging must not distort the figures
	env = append(env, st.env(dir)...)
	env = append(env, extra...)
	return append(env, o.env...) // last wins
}

// setupWorkflow creates the Tracer and Midaz configurations pointing at the
// fake and an active workflow from the tracer-midaz-validation template on
// a fresh webhook path; it checks one synchronous run and returns the
// webhook URL.
func setupWorkflow(ctx context.Context, base, fakeURL string) (string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	suffix := randomHex(4)
	tracer, err := tracerConfig(ctx, c, base, fakeURL, suffix)
	if err != nil {
		return "", err
	}
	midaz, err := postJSON(ctx, c, base+"/v1/provider-configurations", http.StatusCreated, map[string]any{
		"name": "bench-midaz-" + suffix, "providerId": "midaz",
		"config": map[string]any{"onboarding_base_url": fakeURL, "transaction_base_url": fakeURL,
			"organization_id": uuid.NewString(), "ledger_id": uuid.NewString()}})
	if err != nil {
		return "", fmt.Errorf("midaz configuration: %w", err)
	}
	path := "/bench-" + suffix
	wf, err := postJSON(ctx, c, base+"/v1/workflows/from-template", http.StatusCreated, map[string]any{
		"templateId": "tracer-midaz-validation",
		"params": map[string]any{"workflowName": "bench-" + suffix, "webhookPath": path,
			"tracerProviderConfigId": tracer, "midazProviderConfigId": midaz["id"]}})
	if err != nil {
		return "", fmt.Errorf("workflow from template: %w", err)
	}
	hook, r, err := activateAndRun(ctx, c, base, wf, path, http.StatusOK)
	if err != nil {
		return "", err
	}
	if err := checkResults(r); err != nil {
		return "", fmt.Errorf("first synchronous run: %w", err)
	}
	return hook, nil
}

// tracerConfig creates a Tracer configuration pointing at the fake and
// returns its id.
func tracerConfig(ctx context.Context, c *http.Client, base, fakeURL, suffix string) (any, error) {
	tracer, err := postJSON(ctx, c, base+"/v1/provider-configurations", http.StatusCreated, map[string]any{
		"name": "bench-tracer-" + suffix, "providerId": "tracer",
		"config": map[string]any{"base_url": fakeURL, "api_key": "bench-key-" + suffix}})
	if err != nil {
		return nil, fmt.Errorf("tracer configuration: %w", err)
	}
	return tracer["id"], nil
}

// activateAndRun activates the workflow created (wf, the 201 answer), runs
// it once synchronously (?wait=5s), wanting the status code want, and
// returns the URL of its webhook path and the answer.
func activateAndRun(ctx context.Context, c *http.Client, base string, wf map[string]any, path string,
	want int,
) (string, map[string]any, error) {
	if _, err := postJSON(ctx, c, base+"/v1/workflows/"+fmt.Sprint(wf["workflowId"])+"/activate", http.StatusOK, nil); err != nil {
		return "", nil, fmt.Errorf("activating the workflow: %w", err)
	}
	hook := base + "/v1/webhooks" + path
	r, err := postJSON(ctx, c, hook+"?wait=5s", want, transaction(0))
	if err != nil {
		return "", nil, fmt.Errorf("first synchronous run: %w", err)
	}
	return hook, r, nil
}

var txSeq atomic.Int64

// transaction is a webhook body like the reference's: about 300 bytes.
func transaction(i int) []byte {
	n := txSeq.Add(1)
	return fmt.Appendf(nil, `{"requestId":"req-%d-%d","transactionType":"PIX","amount":"125.50","currency":"BRL",`+
		`"transactionTimestamp":"2026-11-24T10:00:00Z","account":{"accountId":"acc-%d","type":"checking","status":"active"},`+
		`"transaction":{"asset":"BRL","value":"125.50"},"transactionDescription":"bench %d"}`, n, i, i%1000, i)
}

// memResult is one memory measurement (d).
type memResult struct {
	concurrency    int // ENGINE_CONCURRENCY
	accepted       int
	hwm            int64 // KiB, peak RSS
	peakCalling    int64 // most provider calls inside the fake at once
	peakUnfinished int   // most executions accepted and not finished, as the database counts them
	submit         time.Duration
	drain          time.Duration // from releasing the held calls (or the last submission) to all finished
	failed         int
	timedOut       bool
	err            error
}

// measureMemory submits rssN executions while the fake answers after
// rssDelay. When the engine may run them all at once, the fake also holds
// its answers until every execution is calling it (or 20 s have passed,
// below the 30 s call timeout), so all are in flight together; then it
// lets them go and the drain is timed. Peak RSS is the larger of VmHWM and
// VmRSS sampled every 50 ms.
func measureMemory(ctx context.Context, o options, f *fake, srv *server, db *sql.DB, hook string, res *memResult) {
	base, err := countExecutions(ctx, db)
	if err != nil {
		res.err = err
		return
	}
	f.delay.Store(int64(o.rssDelay))
	defer f.delay.Store(0)
	hold := res.concurrency >= o.rssN
	if hold {
		f.hold()
		defer f.openGate()
	}
	f.resetPeak()
	start := time.Now()
	var released atomic.Int64 // unix ns
	var peakRSS atomic.Int64
	var peakUnfinished atomic.Int64
	stopSampling := make(chan struct{})
	var samplers sync.WaitGroup
	samplers.Go(func() {
		for {
			if v, err := memKiB(srv.pid(), "VmRSS"); err == nil && v > peakRSS.Load() {
				peakRSS.Store(v)
			}
			if hold && released.Load() == 0 && (f.inside.Load() >= int64(o.rssN) || time.Since(start) > 20*time.Second) {
				released.Store(time.Now().UnixNano())
				f.openGate()
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	samplers.Go(func() {
		for {
			if c, err := countExecutions(ctx, db); err == nil && int64(c.running-base.running) > peakUnfinished.Load() {
				peakUnfinished.Store(int64(c.running - base.running))
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	defer func() { close(stopSampling); samplers.Wait() }()

	deadline := start.Add(o.phaseTimeout)
	sctx, cancel := context.WithDeadline(ctx, deadline)
	sub := submit(sctx, hook, o.rssN, o.rssC)
	cancel()
	res.accepted, res.submit = sub.accepted, sub.last.Sub(start)
	if sub.errors > 0 {
		res.err = fmt.Errorf("%d submissions failed, first: %s", sub.errors, sub.firstErr)
	}
	from := sub.last
	if hold {
		for released.Load() == 0 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		from = time.Unix(0, released.Load())
	}
	final, end, ok := waitFinished(ctx, db, base, sub.accepted, deadline)
	res.drain = end.Sub(from)
	res.timedOut = !ok
	res.failed = final.failed + final.cancelled - base.failed - base.cancelled
	res.peakCalling = f.peak.Load()
	res.peakUnfinished = int(peakUnfinished.Load())
	res.hwm, _ = memKiB(srv.pid(), "VmHWM")
	if v := peakRSS.Load(); v > res.hwm {
		res.hwm = v
	}
}

// readyResult is the cold-start measurement (e).
type readyResult struct {
	runs          int
	min, p50, max time.Duration
	err           error
}

func measureReady(ctx context.Context, o options, work string) readyResult {
	progress("ready time: %d cold starts on an empty SQLite database", o.readyRuns)
	var times []time.Duration
	for i := range o.readyRuns {
		dir := filepath.Join(work, "ready-"+strconv.Itoa(i))
		srv, err := startServer(ctx, o.bin, dir, append([]string{"LOG_LEVEL=warn"}, o.env...)...) // the default: SQLite under ./data
		if err != nil {
			return readyResult{err: err}
		}
		times = append(times, srv.ready)
		srv.stop()
		_ = os.RemoveAll(dir)
	}
	r := readyResult{runs: len(times), min: pct(times, 0), p50: pct(times, 0.5), max: pct(times, 1)}
	progress("ready: min %s, p50 %s, max %s", ms(r.min), ms(r.p50), ms(r.max))
	return r
}

func postJSON(ctx context.Context, c *http.Client, url string, want int, body any) (map[string]any, error) {
	var raw []byte
	if body != nil {
		var ok bool
		if raw, ok = body.([]byte); !ok {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				return nil, err
			}
		}
	}
	code, out, err := post(ctx, c, url, raw)
	if err != nil {
		return nil, err
	}
	if code != want {
		return nil, fmt.Errorf("POST %s: status %d, want %d: %.300s", url, code, want, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("POST %s: %w", url, err)
	}
	return m, nil
}

func post(ctx context.Context, c *http.Client, url string, body []byte) (int, []byte, error) {
	return send(ctx, c, http.MethodPost, url, body)
}

// send makes one request, with body as JSON unless it is a GET, and
// returns the status code and the whole answer.
func send(ctx context.Context, c *http.Client, method, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// pct is the q-quantile (nearest rank) of ds; it sorts ds.
func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
