package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// measureSync: one client, ?wait=5s, back to back (b and c).
func measureSync(ctx context.Context, o options, f *fake, pid int, hook string, res *storeResult) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	defer c.CloseIdleConnections()
	s := timeSyncCalls(ctx, o, f, c, pid, hook, func(raw []byte) (string, int, bool) {
		var r map[string]any
		if err := json.Unmarshal(raw, &r); err != nil || checkResults(r) != nil {
			return "", 0, false
		}
		return fmt.Sprint(r["executionId"]), len(r["stepResults"].([]any)), true
	})
	res.syncErrors, res.syncErr = s.errors, s.err
	if len(s.lat) == 0 {
		if res.syncErr == nil {
			res.syncErr = errors.New("no successful call")
		}
		return
	}
	if res.syncErrors == 0 {
		res.syncErr = nil
	}
	res.syncN = len(s.lat)
	res.syncCPU = s.cpu
	res.syncP50, res.syncP90, res.syncP99, res.syncMax = pct(s.lat, 0.5), pct(s.lat, 0.9), pct(s.lat, 0.99), pct(s.lat, 1)
	res.providerP50, res.overheadP50 = pct(s.prov, 0.5), pct(s.over, 0.5)
	progress("%s: sync p50 %s p99 %s, provider p50 %s, overhead/step p50 %s, CPU/call %s (%d errors)", res.label,
		ms(res.syncP50), ms(res.syncP99), ms(res.providerP50), ms(res.overheadP50), ms(res.syncCPU), res.syncErrors)
}

// syncCalls are the measured calls of timeSyncCalls: each one's latency,
// the fake's time in it and the overhead per step, the server's CPU per
// call, and the calls that did not count.
type syncCalls struct {
	lat, prov, over []time.Duration
	cpu             time.Duration
	errors          int
	err             error // the first failed call's, or why the calls stopped
}

// timeSyncCalls makes -sync-warmup then -sync-n calls with ?wait=5s from
// one client, back to back, as b and c time Flowker and the ceiling. A call
// counts when it answers 200 and answer reads from it the execution's id
// (whose time in the fake is taken) and its number of steps.
func timeSyncCalls(ctx context.Context, o options, f *fake, c *http.Client, pid int, hook string,
	answer func(raw []byte) (id string, steps int, ok bool)) (s syncCalls) {
	f.record.Store(true)
	defer f.record.Store(false)
	deadline := time.Now().Add(o.phaseTimeout)
	var cpu cpuMeter
	for i := range o.syncWarmup + o.syncN {
		if ctx.Err() != nil || time.Now().After(deadline) {
			s.err = fmt.Errorf("stopped after %d calls", len(s.lat))
			break
		}
		if i == o.syncWarmup {
			cpu = startCPU(pid)
		}
		body := transaction(i)
		start := time.Now()
		code, raw, err := post(ctx, c, hook+"?wait=5s", body)
		d := time.Since(start)
		if err != nil || code != http.StatusOK {
			s.errors++
			if s.err == nil && err != nil {
				s.err = fmt.Errorf("synchronous call: %w", err)
			} else if s.err == nil {
				s.err = fmt.Errorf("synchronous call: status %d: %.200s", code, raw)
			}
			continue
		}
		id, steps, ok := answer(raw)
		if !ok {
			s.errors++
			continue
		}
		spent := f.take(id)
		if i < o.syncWarmup {
			continue
		}
		s.lat, s.prov = append(s.lat, d), append(s.prov, spent)
		s.over = append(s.over, (d-spent)/time.Duration(steps))
	}
	s.cpu = cpu.per(len(s.lat))
	return s
}

// checkResults wants a completed execution whose three steps completed.
func checkResults(r map[string]any) error {
	steps, _ := r["stepResults"].([]any)
	if r["status"] != "completed" || len(steps) != 3 {
		return fmt.Errorf("want a completed execution with 3 steps, got status %v with %d steps: %v", r["status"], len(steps), r)
	}
	for _, s := range steps {
		if m, _ := s.(map[string]any); m["status"] != "completed" {
			return fmt.Errorf("step %v is %v", m["nodeId"], m["status"])
		}
	}
	return nil
}
