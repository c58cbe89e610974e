package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"time"
)

// The ceiling (cmd/flowker-ceiling) does the reference workflow's I/O and
// nothing else: the webhook, the two provider calls against the same fake,
// and the minimum durable writes, group-committed, on the same kind of
// store. Phase a's load is run against it before and after Flowker's (two
// fresh servers, added up: a machine whose speed drifts weighs on both
// sides alike), and the report gives Flowker's throughput and CPU per
// execution as a ratio to it.

// ceilingAim is the ratio to the ceiling the issue aims at, for throughput
// (Flowker ÷ ceiling) and CPU per execution (ceiling ÷ Flowker).
const ceilingAim = 0.6

// ceilingRun starts the ceiling on a fresh database of st's kind (a new
// SQLite file with the same synchronous setting, or a new PostgreSQL
// schema), times its synchronous mode as b does Flowker's (when sync), and
// runs phase a's load against it; name tells the runs apart.
func ceilingRun(ctx context.Context, o options, f *fake, st *benchStore, work, name string, sync bool,
	sr *storeResult) (res throughput) {
	cst, err := storeFor(ctx, st.key, o)
	if err != nil {
		res.err = err
		return res
	}
	defer cst.cleanup()
	dir := filepath.Join(work, "ceiling-"+name)
	env := []string{"CEILING_TRACER_URL=" + f.url, "CEILING_MIDAZ_URL=" + f.url}
	if cst.postgres() {
		env = append(env, "CEILING_STORE="+cst.dsn)
	} else {
		env = append(env, "CEILING_STORE=sqlite:"+sqlitePath(dir), "CEILING_SYNCHRONOUS="+cst.synchronous)
	}
	progress("%s: ceiling %s Flowker's (%s), %d async webhook calls from %d clients", st.label, name, o.ceilingBin,
		o.n, o.c)
	srv, err := startServer(ctx, o.ceilingBin, dir, env...) // serves /health/ready and takes SERVER_ADDRESS like flowker
	if err != nil {
		res.err = fmt.Errorf("ceiling: %w", err)
		return res
	}
	defer srv.stop()
	db, err := cst.open(dir)
	if err != nil {
		res.err = err
		return res
	}
	defer db.Close()
	hook := srv.base + "/v1/webhooks/bench"
	// The same first synchronous call as Flowker's setup: it warms the
	// connections and checks the fake answers.
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	if _, raw, err := post(ctx, c, hook+"?wait=5s", transaction(0)); err != nil {
		res.err = fmt.Errorf("ceiling: first call: %w", err)
		return res
	} else if want := `"status":"completed"`; !bytes.Contains(raw, []byte(want)) {
		res.err = fmt.Errorf("ceiling: first call: want %s, got %.200s", want, raw)
		return res
	}
	if sync {
		ceilingSync(ctx, o, f, c, srv.pid(), hook, sr)
		progress("%s ceiling: sync p50 %s p99 %s, overhead/step p50 %s, CPU/call %s", st.label, ms(sr.ceilingSyncP50),
			ms(sr.ceilingSyncP99), ms(sr.ceilingOverheadP50), ms(sr.ceilingSyncCPU))
	}
	return runLoad(ctx, o, st.label+" ceiling "+name, srv.pid(), allExecutions(db), st.pgDB(db), hook)
}

// referenceSteps is how many steps Flowker records for the reference
// workflow (Tracer, the condition, Midaz): the ceiling's overhead per step
// divides by it, as c divides Flowker's by the steps it answers with.
const referenceSteps = 3

// ceilingSync times the ceiling's synchronous mode as b and c time
// Flowker's; only completed executions count. Its overhead per step is
// c's, for the same I/O and nothing else: the floor its commits and calls
// put under Flowker's.
func ceilingSync(ctx context.Context, o options, f *fake, c *http.Client, pid int, hook string, sr *storeResult) {
	s := timeSyncCalls(ctx, o, f, c, pid, hook, func(raw []byte) (string, int, bool) {
		var answer struct{ ExecutionID, Status string }
		ok := json.Unmarshal(raw, &answer) == nil && answer.Status == "completed"
		return answer.ExecutionID, referenceSteps, ok
	})
	sr.ceilingSyncP50, sr.ceilingSyncP99, sr.ceilingSyncCPU = pct(s.lat, 0.5), pct(s.lat, 0.99), s.cpu
	sr.ceilingOverheadP50 = pct(s.over, 0.5)
}

// ceilingRatios are Flowker's throughput ÷ the ceiling's and the ceiling's
// CPU per execution ÷ Flowker's (both ≤ 1 when Flowker costs more); zero
// when either run is missing.
func ceilingRatios(s storeResult) (throughputRatio, cpuRatio float64) {
	if !s.tp.measured() || !s.ceiling.measured() {
		return 0, 0
	}
	throughputRatio = s.tp.perSec / s.ceiling.perSec
	if s.tp.cpuPerExec > 0 {
		cpuRatio = float64(s.ceiling.cpuPerExec) / float64(s.tp.cpuPerExec)
	}
	return throughputRatio, cpuRatio
}
