package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// submitResult is the outcome of a burst of async webhook calls.
type submitResult struct {
	accepted, retries503, errors int
	firstErr                     string
	first, last                  time.Time // first call sent, last 201 received
}

// submit sends n async webhook calls from c clients; a 503 (queue full) is
// retried after a short pause and counted.
func submit(ctx context.Context, hook string, n, c int) submitResult {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var mu sync.Mutex
	res := submitResult{first: time.Now()}
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			var accepted, retries, errs int
			var last time.Time
			var firstErr string
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					break
				}
				body := transaction(i)
				for ctx.Err() == nil {
					code, raw, err := post(ctx, client, hook, body)
					if err == nil && code == http.StatusServiceUnavailable {
						retries++
						time.Sleep(5 * time.Millisecond)
						continue
					}
					if err != nil || code != http.StatusCreated {
						errs++
						if firstErr == "" {
							firstErr = fmt.Sprintf("status %d, %v: %.200s", code, err, raw)
						}
						break
					}
					accepted++
					last = time.Now()
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.accepted += accepted
			res.retries503 += retries
			res.errors += errs
			if res.firstErr == "" {
				res.firstErr = firstErr
			}
			if last.After(res.last) {
				res.last = last
			}
		})
	}
	wg.Wait()
	return res
}

// waitFinished polls the database until want executions more than base are
// finished, the deadline passes or ctx ends; it returns the last counts and
// when they were seen.
func waitFinished(ctx context.Context, db *sql.DB, base counts, want int, deadline time.Time) (counts, time.Time, bool) {
	return pollFinished(ctx, allExecutions(db), base, want, deadline)
}

func pollFinished(ctx context.Context, count counter, base counts, want int, deadline time.Time) (counts, time.Time, bool) {
	return pollCounts(ctx, count, deadline, 20*time.Millisecond, func(c counts) bool { return c.finished()-base.finished() >= want })
}

// waitCounts polls the database every interval until done holds for its
// counts, the deadline passes or ctx ends; it returns the last counts and
// when they were seen.
func waitCounts(ctx context.Context, db *sql.DB, deadline time.Time, interval time.Duration,
	done func(counts) bool,
) (counts, time.Time, bool) {
	return pollCounts(ctx, allExecutions(db), deadline, interval, done)
}

func pollCounts(ctx context.Context, count counter, deadline time.Time, interval time.Duration,
	done func(counts) bool,
) (counts, time.Time, bool) {
	for {
		c, err := count(ctx)
		now := time.Now()
		if err == nil && done(c) {
			return c, now, true
		}
		if ctx.Err() != nil || now.After(deadline) {
			return c, now, false
		}
		time.Sleep(interval)
	}
}

// counter counts a server's executions by status.
type counter func(ctx context.Context) (counts, error)

func allExecutions(db *sql.DB) counter {
	return func(ctx context.Context) (counts, error) { return countExecutions(ctx, db) }
}

// executionsSince counts only the executions started from now on (less a
// second): what a load run adds to a database already holding many.
func executionsSince(db *sql.DB, st *benchStore) counter {
	since := st.timeArg(time.Now().Add(-time.Second))
	return func(ctx context.Context) (counts, error) { return countExecutionsSince(ctx, db, since) }
}

// throughput is one run of phase a's load: -n async webhook calls from -c
// clients, timed from the first call until the database counts them all
// finished.
type throughput struct {
	completed, failed int
	acceptPerSec      float64
	perSec            float64
	elapsed           time.Duration
	cpuPerExec        time.Duration // the server's own CPU (user+sys) per execution
	retries503        int
	timedOut          bool
	err               error
	rssAfter          int64   // KiB, VmHWM of the server after the run
	pg                *pgWork // PostgreSQL's own work per execution; nil on SQLite
}

func (t throughput) measured() bool { return t.perSec > 0 }

// ok: every call accepted, every execution finished and completed.
func (t throughput) ok() bool { return t.measured() && !t.timedOut && t.failed == 0 && t.err == nil }

// sumRuns adds up runs of the same load, taken around another so that a
// machine whose speed drifts weighs on both alike: their executions over
// their time, their CPU and PostgreSQL's work over their executions.
func sumRuns(runs ...throughput) throughput {
	var sum throughput
	var cpu time.Duration
	var errs []error
	for _, t := range runs {
		done := t.completed + t.failed
		sum.completed += t.completed
		sum.failed += t.failed
		sum.elapsed += t.elapsed
		sum.retries503 += t.retries503
		sum.timedOut = sum.timedOut || t.timedOut
		sum.rssAfter = max(sum.rssAfter, t.rssAfter)
		cpu += t.cpuPerExec * time.Duration(done)
		sum.pg = sum.pg.plus(t.pg)
		errs = append(errs, t.err)
		if !t.measured() {
			errs = append(errs, errors.New("a run was not measured"))
		}
	}
	sum.err = errors.Join(errs...)
	if done := sum.completed + sum.failed; done > 0 && sum.elapsed > 0 && sum.err == nil {
		sum.perSec = float64(done) / sum.elapsed.Seconds()
		sum.cpuPerExec = cpu / time.Duration(done)
		if sum.pg != nil {
			sum.pg.perExec(done)
		}
	}
	return sum
}

// runLoad sends phase a's load to hook and times it; pid is the server's
// process (its CPU and peak RSS are read), count counts its executions,
// pg (nil on SQLite) is a connection to its PostgreSQL database, whose own
// work is read too.
func runLoad(ctx context.Context, o options, label string, pid int, count counter, pg *sql.DB, hook string) throughput {
	var res throughput
	base, err := count(ctx)
	if err != nil {
		res.err = err
		return res
	}
	cpu, pgStart := startCPU(pid), readPGWork(ctx, pg)
	deadline := time.Now().Add(o.phaseTimeout)
	sctx, cancel := context.WithDeadline(ctx, deadline)
	sub := submit(sctx, hook, o.n, o.c)
	cancel()
	res.retries503 = sub.retries503
	if sub.accepted > 0 {
		res.acceptPerSec = float64(sub.accepted) / sub.last.Sub(sub.first).Seconds()
	}
	final, end, ok := pollFinished(ctx, count, base, sub.accepted, deadline)
	res.cpuPerExec = cpu.per(final.finished() - base.finished())
	res.pg = readPGWork(ctx, pg).since(pgStart, final.finished()-base.finished())
	res.elapsed = end.Sub(sub.first)
	res.completed = final.completed - base.completed
	res.failed = final.failed + final.cancelled - base.failed - base.cancelled
	res.timedOut = !ok
	res.perSec = float64(final.finished()-base.finished()) / res.elapsed.Seconds()
	res.rssAfter, _ = memKiB(pid, "VmHWM")
	if sub.errors > 0 {
		res.err = fmt.Errorf("%d submissions failed, first: %s", sub.errors, sub.firstErr)
	}
	progress("%s: %d accepted at %.0f/s (%d× 503), %d completed, %d failed in %s: %.0f/s, CPU %s/execution",
		label, sub.accepted, res.acceptPerSec, sub.retries503, res.completed, res.failed,
		res.elapsed.Round(time.Millisecond), res.perSec, ms(res.cpuPerExec))
	if res.pg != nil {
		progress("%s: PostgreSQL's CPU / WAL per execution: %s", label, res.pg.text())
	}
	return res
}
