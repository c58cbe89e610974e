// Command flowker-load is a small load generator for Flowker.
//
// Mode get-workflow (the default) creates one workflow at -url, then keeps
// -c goroutines sending GET /v1/workflows/{id} back to back for -warmup
// plus -d (or until -n measured requests) and reports throughput and
// latency percentiles of the requests started after the warmup:
//
//	flowker-load -url http://127.0.0.1:4021 -c 32 -d 10s -json
//
// Mode cold-start starts -bin -runs times, each in a fresh temporary
// directory (an empty SQLite database) on a free loopback port, and reports
// the time from exec to the first 200 from /health/ready:
//
//	flowker-load -mode cold-start -bin bin/flowker -runs 10
//
// With -json the result is one JSON object on stdout and the human line
// goes to stderr.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type options struct {
	mode, url, bin  string
	conc, n, runs   int
	dur, warmup     time.Duration
	json, keepDBEnv bool
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "get-workflow", "get-workflow or cold-start")
	flag.StringVar(&o.url, "url", "http://127.0.0.1:4021", "base URL of the server under load (get-workflow)")
	flag.IntVar(&o.conc, "c", 32, "concurrent workers (get-workflow)")
	flag.DurationVar(&o.dur, "d", 10*time.Second, "measured duration (get-workflow)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warmup before -d (get-workflow)")
	flag.IntVar(&o.n, "n", 0, "stop after this many measured requests; 0 means no limit (get-workflow)")
	flag.StringVar(&o.bin, "bin", "", "flowker binary to start (cold-start)")
	flag.IntVar(&o.runs, "runs", 10, "number of starts (cold-start)")
	flag.BoolVar(&o.keepDBEnv, "keep-db-env", false, "pass DATABASE_URL on to the started server (cold-start)")
	flag.BoolVar(&o.json, "json", false, "also print the result as one JSON object on stdout")
	flag.Parse()

	run := map[string]func(options) error{"get-workflow": runGetWorkflow, "cold-start": runColdStart}[o.mode]
	if run == nil {
		fmt.Fprintf(os.Stderr, "flowker-load: unknown -mode %q: use get-workflow or cold-start\n", o.mode)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "flowker-load:", err)
		os.Exit(1)
	}
}

// result is the get-workflow report (the -json object).
type result struct {
	Mode        string  `json:"mode"`
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"` // measured: 200s plus errors
	Errors      int     `json:"errors"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"rps"`
	P50         float64 `json:"p50_ms"` // latency percentiles of the 200s
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
}

// worker is one goroutine's measurements; nothing is shared while running.
type worker struct {
	lat    []time.Duration // latencies of 200 responses
	errs   map[string]int  // non-200 status or transport error -> count
	nerr   int
	limit  int // measured requests allowed
	doneAt time.Time
}

func runGetWorkflow(o options) error {
	if o.conc < 1 || o.dur <= 0 || o.warmup < 0 || o.n < 0 {
		return errors.New("need -c >= 1, -d > 0, -warmup >= 0, -n >= 0")
	}
	base := strings.TrimRight(o.url, "/")
	tr := &http.Transport{MaxIdleConns: o.conc, MaxIdleConnsPerHost: o.conc, MaxConnsPerHost: o.conc,
		IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	// Hard stop even if the server hangs: in-flight requests are cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), o.warmup+o.dur+10*time.Second)
	defer cancel()

	id, err := createWorkflow(ctx, client, base)
	if err != nil {
		return err
	}
	measureFrom := time.Now().Add(o.warmup)
	end := measureFrom.Add(o.dur)
	workers := make([]worker, o.conc)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		w.limit = math.MaxInt
		capacity := int(o.dur.Seconds()*40000)/o.conc + 1024 // a guess; append grows it if short
		if o.n > 0 {
			w.limit = o.n/o.conc + min(1, max(0, o.n%o.conc-i)) // the remainder goes to the first workers
			capacity = w.limit
		}
		w.lat, w.errs = make([]time.Duration, 0, capacity), map[string]int{}
		wg.Go(func() { w.run(ctx, client, base+"/v1/workflows/"+id, measureFrom, end) })
	}
	wg.Wait()

	var all []time.Duration
	errs, nerr, last := map[string]int{}, 0, measureFrom
	for i := range workers {
		w := &workers[i]
		all = append(all, w.lat...)
		nerr += w.nerr
		for k, v := range w.errs {
			errs[k] += v
		}
		if w.doneAt.After(last) {
			last = w.doneAt
		}
	}
	slices.Sort(all)
	secs := last.Sub(measureFrom).Seconds()
	r := result{Mode: o.mode, Concurrency: o.conc, Requests: len(all) + nerr, Errors: nerr,
		Seconds: math.Round(secs*1000) / 1000, P50: ms(all, 0.5), P90: ms(all, 0.9), P99: ms(all, 0.99), Max: ms(all, 1)}
	if secs > 0 {
		r.RPS = math.Round(float64(r.Requests)/secs*10) / 10
	}
	for k, v := range errs {
		fmt.Fprintf(os.Stderr, "  error x%d: %s\n", v, k)
	}
	return report(o, r, fmt.Sprintf("get-workflow c=%d: %d requests in %.2fs = %.0f req/s, %d errors; p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
		r.Concurrency, r.Requests, r.Seconds, r.RPS, r.Errors, r.P50, r.P90, r.P99, r.Max))
}

// run sends requests back to back until end or its limit. Requests started
// before measureFrom are warmup and are not recorded.
func (w *worker) run(ctx context.Context, client *http.Client, url string, measureFrom, end time.Time) {
	// One request, reused: allowed once the previous response body is closed.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		w.errs[err.Error()], w.nerr = 1, 1
		return
	}
	for {
		t := time.Now()
		if !t.Before(end) || ctx.Err() != nil || len(w.lat)+w.nerr >= w.limit {
			return
		}
		status, err := get(client, req)
		el := time.Since(t)
		if t.Before(measureFrom) {
			continue
		}
		w.doneAt = t.Add(el)
		switch {
		case err != nil:
			w.errs[err.Error()]++
			w.nerr++
		case status != http.StatusOK:
			w.errs[fmt.Sprintf("HTTP %d", status)]++
			w.nerr++
		default:
			w.lat = append(w.lat, el)
		}
	}
}

func get(client *http.Client, req *http.Request) (int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// createWorkflow creates a uniquely named two-node workflow and returns its id.
func createWorkflow(ctx context.Context, client *http.Client, base string) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"name":  fmt.Sprintf("load-%d-%d", os.Getpid(), time.Now().UnixNano()),
		"nodes": []map[string]string{{"id": "t", "type": "trigger"}, {"id": "x", "type": "action"}},
		"edges": []map[string]string{{"id": "e1", "source": "t", "target": "x"}},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/workflows", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("create workflow: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var out struct {
		WorkflowID string `json:"workflowId"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(raw, &out) != nil || out.WorkflowID == "" {
		return "", fmt.Errorf("create workflow: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return out.WorkflowID, nil
}

// ms is the nearest-rank percentile p (0..1) of sorted, in milliseconds,
// rounded to microseconds; p=0 gives the minimum.
func ms(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := max(int(math.Ceil(p*float64(len(sorted))))-1, 0)
	return float64(sorted[i].Microseconds()) / 1000
}

// report prints the human line (to stderr with -json) and the JSON object.
func report(o options, r any, human string) error {
	if !o.json {
		fmt.Println(human)
		return nil
	}
	fmt.Fprintln(os.Stderr, human)
	return json.NewEncoder(os.Stdout).Encode(r)
}
