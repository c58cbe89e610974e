package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Phase f: executions waiting for a review (docs/waiting.md). A waiting
// execution is parked: no goroutine, worker or lease, only rows. The phase
// submits -wait-n executions of webhook → review → Tracer (on approve), waits
// until the database counts them all waiting, and compares the server's RSS
// then with its RSS at idle; it times the review inbox with all of them open
// and the resumption of -wait-resume of them.

// waitBoundMiB is the RSS growth, settled with all -wait-n executions
// waiting, that still counts as bounded: 50 MiB over 100,000 is ~520 bytes
// each, far below anything kept per execution in memory (a goroutine alone
// starts with an 8 KiB stack), and well above the noise of the Go heap.
const waitBoundMiB = 50

// waitResult is phase f on one store. RSS figures are in KiB.
type waitResult struct {
	accepted, retries503  int
	waiting               int // counted waiting when the phase stopped waiting for them
	idle, peak, settled   int64
	afterResume           int64
	toWaiting             time.Duration // first submission to all counted waiting
	storeBefore, storeNow int64         // bytes of the database on disk (SQLite, with its WAL) or of the schema's tables
	timedOut              bool

	listN                     int
	listP50, listP90, listMax time.Duration

	resumeWanted, decided, resumed, resumeFailed int
	decideP50                                    time.Duration
	resumeTime                                   time.Duration // first decision to all of them finished
	resumeTimedOut                               bool

	err error
}

func (w waitResult) measured() bool { return w.accepted > 0 }

// growthMiB is the settled RSS with all waiting minus the idle RSS.
func (w waitResult) growthMiB() float64 { return float64(w.settled-w.idle) / 1024 }

// measureWaiting runs phase f on a fresh server.
func measureWaiting(ctx context.Context, o options, f *fake, st *benchStore, work string) waitResult {
	var res waitResult
	progress("%s: waiting, %d executions parked at a review from %d clients, then %d approved",
		st.label, o.waitN, o.waitC, o.waitResume)
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: max(o.waitC, 1)}}
	defer c.CloseIdleConnections()
	srv, hook, db, err := bootServer(ctx, o, st, filepath.Join(work, "waiting"),
		func(ctx context.Context, base string) (string, error) { return setupWaitWorkflow(ctx, c, base, f.url) },
		"RATE_LIMIT_PER_MINUTE=0")
	if err != nil {
		res.err = err
		return res
	}
	defer srv.stop()
	defer db.Close()
	deadline := time.Now().Add(o.waitTimeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	if err := parkAll(ctx, o, st, srv, db, hook, &res); err != nil {
		res.err = err
		return res
	}
	if ctx.Err() != nil {
		return res
	}
	progress("%s: %s waiting in %s (%.0f/s); RSS idle %.1f MiB, peak %.1f MiB, settled %.1f MiB (%+.1f MiB)",
		st.label, thousands(res.waiting), res.toWaiting.Round(time.Millisecond),
		float64(res.waiting)/res.toWaiting.Seconds(), mib(res.idle), mib(res.peak), mib(res.settled), res.growthMiB())

	if err := measureInbox(ctx, c, srv.base, &res); err != nil {
		res.err = err
		return res
	}
	progress("%s: GET /v1/reviews?status=open&limit=20 p50 %s (%d calls)", st.label, ms(res.listP50), res.listN)
	if o.waitResume > 0 {
		if err := resume(ctx, o, c, srv, db, &res); err != nil {
			res.err = err
			return res
		}
		progress("%s: %d approved, %d completed and %d failed in %s; RSS %.1f MiB after", st.label,
			res.decided, res.resumed, res.resumeFailed, res.resumeTime.Round(time.Millisecond), mib(res.afterResume))
	}
	return res
}

// setupWaitWorkflow creates a Tracer configuration pointing at the fake and
// an active workflow webhook → review → (approve) tracer.validate-transaction;
// it takes one execution through it (a synchronous start answers 202
// waiting, the review is approved, the execution completes) and returns the
// webhook URL.
func setupWaitWorkflow(ctx context.Context, c *http.Client, base, fakeURL string) (string, error) {
	suffix := randomHex(4)
	tracer, err := tracerConfig(ctx, c, base, fakeURL, suffix)
	if err != nil {
		return "", err
	}
	path := "/bench-waiting-" + suffix
	pairs := func(p ...string) []any {
		out := make([]any, 0, len(p)/2)
		for i := 0; i+1 < len(p); i += 2 {
			out = append(out, map[string]any{"source": p[i], "target": p[i+1]})
		}
		return out
	}
	node := func(id, typ, name string, y int, data map[string]any) map[string]any {
		return map[string]any{"id": id, "type": typ, "name": name, "position": map[string]any{"x": 250, "y": y}, "data": data}
	}
	wf, err := postJSON(ctx, c, base+"/v1/workflows", http.StatusCreated, map[string]any{
		"name": "bench-waiting-" + suffix,
		"nodes": []any{
			node("webhook-trigger", "trigger", "Webhook Trigger", 0,
				map[string]any{"triggerType": "webhook", "path": path, "method": "POST"}),
			node("review", "review", "Review", 150, map[string]any{"title": "bench", "decisions": []any{"approve", "reject"},
				"context": pairs("workflow.requestId", "requestId", "workflow.amount", "amount", "workflow.currency", "currency")}),
			node("tracer-validate", "executor", "Tracer Validate Transaction", 300, map[string]any{
				"executorId": "tracer.validate-transaction", "providerConfigId": tracer, "method": "POST",
				"path": "/v1/validations", "inputMapping": pairs("workflow.requestId", "requestId",
					"workflow.transactionType", "transactionType", "workflow.amount", "amount", "workflow.currency", "currency",
					"workflow.transactionTimestamp", "transactionTimestamp", "workflow.account", "account")}),
		},
		"edges": []any{
			map[string]any{"id": "trigger-to-review", "source": "webhook-trigger", "target": "review"},
			map[string]any{"id": "review-to-tracer", "source": "review", "target": "tracer-validate", "sourceHandle": "approve"},
		},
	})
	if err != nil {
		return "", fmt.Errorf("waiting workflow: %w", err)
	}
	hook, started, err := activateAndRun(ctx, c, base, wf, path, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	if started["status"] != "waiting" {
		return "", fmt.Errorf("first synchronous run: status %v, want waiting", started["status"])
	}
	ids, err := openReviews(ctx, c, base, 1)
	if err != nil || len(ids) != 1 {
		return "", fmt.Errorf("first execution's review: %d found, %w", len(ids), err)
	}
	if err := decide(ctx, c, base, ids[0]); err != nil {
		return "", fmt.Errorf("first execution's review: %w", err)
	}
	exec := base + "/v1/executions/" + fmt.Sprint(started["executionId"])
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, raw, err := get(ctx, c, exec)
		if err != nil {
			return "", err
		}
		if strings.Contains(string(raw), `"status":"completed"`) {
			return hook, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("first execution not completed 10 s after its approval: %.300s", raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// parkAll submits -wait-n executions and waits until all are waiting,
// sampling the server's RSS; then it lets the server settle.
func parkAll(ctx context.Context, o options, st *benchStore, srv *server, db *sql.DB, hook string, res *waitResult) error {
	base, err := countExecutions(ctx, db)
	if err != nil {
		return err
	}
	sleep(ctx, o.waitSettle)
	if res.idle, err = memKiB(srv.pid(), "VmRSS"); err != nil {
		return err
	}
	res.storeBefore, _ = storeBytes(ctx, st, db)
	// Reset the peak (VmHWM) to the current RSS: the peak is of this burst.
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", srv.pid()), []byte("5"), 0)
	stop := watchServer(ctx, srv, db, st.label, base)
	sub := submit(ctx, hook, o.waitN, o.waitC)
	res.accepted, res.retries503 = sub.accepted, sub.retries503
	if sub.errors > 0 {
		stop()
		return fmt.Errorf("%d submissions failed, first: %s", sub.errors, sub.firstErr)
	}
	final, end, ok := waitCounts(ctx, db, time.Now().Add(24*time.Hour), 100*time.Millisecond,
		func(c counts) bool { return c.waiting-base.waiting >= sub.accepted })
	res.peak = stop()
	res.waiting, res.toWaiting, res.timedOut = final.waiting-base.waiting, end.Sub(sub.first), !ok
	if hwm, err := memKiB(srv.pid(), "VmHWM"); err == nil && hwm > res.peak {
		res.peak = hwm
	}
	if n := final.failed + final.cancelled - base.failed - base.cancelled; n > 0 {
		return fmt.Errorf("%d executions failed instead of waiting", n)
	}
	sleep(ctx, o.waitSettle)
	res.settled, err = memKiB(srv.pid(), "VmRSS")
	res.storeNow, _ = storeBytes(ctx, st, db)
	return err
}

// watchServer samples the server's VmRSS every 100 ms, and reports the
// database's counts every 15 s, until the returned function is called; it
// returns the highest RSS seen.
func watchServer(ctx context.Context, srv *server, db *sql.DB, label string, base counts) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		next := time.Now().Add(15 * time.Second)
		for {
			if v, err := memKiB(srv.pid(), "VmRSS"); err == nil {
				raise(&peak, v)
			}
			if time.Now().After(next) {
				next = next.Add(15 * time.Second)
				if c, err := countExecutions(ctx, db); err == nil {
					progress("%s: %s waiting, %s pending or running, RSS %.1f MiB", label,
						thousands(c.waiting-base.waiting), thousands(c.running-base.running), mib(peak.Load()))
				}
			}
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	return func() int64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// measureInbox times GET /v1/reviews?status=open&limit=20, 50 times in a row.
func measureInbox(ctx context.Context, c *http.Client, base string, res *waitResult) error {
	want := min(res.waiting, 20)
	var lat []time.Duration
	for range 50 {
		start := time.Now()
		code, raw, err := get(ctx, c, base+"/v1/reviews?status=open&limit=20")
		d := time.Since(start)
		if err != nil {
			return fmt.Errorf("review inbox: %w", err)
		}
		if code != http.StatusOK {
			return fmt.Errorf("review inbox: status %d: %.300s", code, raw)
		}
		if n := strings.Count(string(raw), `"executionId"`); n != want {
			return fmt.Errorf("review inbox: %d reviews on the page, want %d", n, want)
		}
		lat = append(lat, d)
	}
	res.listN = len(lat)
	res.listP50, res.listP90, res.listMax = pct(lat, 0.5), pct(lat, 0.9), pct(lat, 1)
	return nil
}

// resume approves -wait-resume open reviews from -wait-c clients and waits
// until their executions have finished.
func resume(ctx context.Context, o options, c *http.Client, srv *server, db *sql.DB, res *waitResult) error {
	ids, err := openReviews(ctx, c, srv.base, min(o.waitResume, res.waiting))
	if err != nil {
		return err
	}
	res.resumeWanted = len(ids)
	base, err := countExecutions(ctx, db)
	if err != nil {
		return err
	}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	start := time.Now()
	var wg sync.WaitGroup
	for range min(o.waitC, len(ids)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				t := time.Now()
				err := decide(ctx, c, srv.base, ids[i])
				d := time.Since(t)
				mu.Lock()
				if err == nil {
					lat = append(lat, d)
				} else if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.decided, res.decideP50 = len(lat), pct(lat, 0.5)
	final, end, ok := waitCounts(ctx, db, time.Now().Add(24*time.Hour), 20*time.Millisecond,
		func(c counts) bool { return c.finished()-base.finished() >= res.decided })
	res.resumeTime, res.resumeTimedOut = end.Sub(start), !ok
	res.resumed = final.completed - base.completed
	res.resumeFailed = final.failed + final.cancelled - base.failed - base.cancelled
	if v, err := memKiB(srv.pid(), "VmRSS"); err == nil {
		res.afterResume = v
	}
	if firstErr != nil {
		return fmt.Errorf("%d of %d decisions failed, first: %w", len(ids)-res.decided, len(ids), firstErr)
	}
	return nil
}

// openReviews lists up to n open reviews' ids through the API, 100 a page.
func openReviews(ctx context.Context, c *http.Client, base string, n int) ([]string, error) {
	var ids []string
	cursor := ""
	for len(ids) < n {
		u := base + "/v1/reviews?status=open&limit=" + strconv.Itoa(min(n-len(ids), 100))
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor string `json:"nextCursor"`
			HasMore    bool   `json:"hasMore"`
		}
		if err := getJSON(ctx, c, u, &page); err != nil {
			return ids, fmt.Errorf("listing open reviews: %w", err)
		}
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if !page.HasMore || page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	return ids, nil
}

func decide(ctx context.Context, c *http.Client, base, reviewID string) error {
	_, err := postJSON(ctx, c, base+"/v1/reviews/"+reviewID+"/decisions", http.StatusCreated,
		map[string]any{"decision": "approve", "comment": "bench"})
	return err
}

// storeBytes is the size of the database: SQLite's pages in use (the WAL
// included, free pages not), or the total size (indexes and TOAST
// included) of the tables of the PostgreSQL schema in use.
func storeBytes(ctx context.Context, st *benchStore, db *sql.DB) (int64, error) {
	if st.key == "postgres" {
		var n int64
		err := db.QueryRowContext(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
			FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
			WHERE s.nspname = current_schema() AND c.relkind = 'r'`).Scan(&n)
		return n, err
	}
	var pages, free, size int64
	err := db.QueryRowContext(ctx, `SELECT p.page_count, f.freelist_count, s.page_size
		FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s`).Scan(&pages, &free, &size)
	return (pages - free) * size, err
}

func get(ctx context.Context, c *http.Client, u string) (int, []byte, error) {
	return send(ctx, c, http.MethodGet, u, nil)
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	code, raw, err := get(ctx, c, u)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %.300s", u, code, raw)
	}
	return json.Unmarshal(raw, v)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// waitingMarkdown is the report's section for phase f: one column per
// store, then the verdict on memory for each.
func (r *report) waitingMarkdown(b *strings.Builder) {
	var stores []storeResult
	for _, s := range r.stores {
		if s.wait.measured() || s.wait.err != nil {
			stores = append(stores, s)
		}
	}
	if len(stores) == 0 {
		return
	}
	o := r.o
	fmt.Fprintf(b, "\n#### Waiting executions (f)\n\n"+
		"- Workflow: webhook → `review` (decisions approve/reject, a 3-field context) → on approve "+
		"`tracer.validate-transaction` against the fake. %s async webhook calls from %d clients "+
		"(`ENGINE_QUEUE_SIZE` default, a 503 is retried); waiting = first call to the database counting all of them "+
		"`waiting`. RSS idle: before the burst, after %s idle; peak: VmHWM during the burst; settled: %s after "+
		"all are waiting. Inbox: `GET /v1/reviews?status=open&limit=20`, 50 calls in a row with all of them open. "+
		"Resume: %s of them approved (`POST /v1/reviews/{id}/decisions`) from %d clients, timed until the database "+
		"counts them finished.\n\n",
		thousands(o.waitN), o.waitC, o.waitSettle, o.waitSettle, thousands(o.waitResume), o.waitC)
	b.WriteString("| measure |")
	sep := "|---|"
	for _, s := range stores {
		b.WriteString(" " + s.label + " |")
		sep += "---|"
	}
	b.WriteString("\n" + sep + "\n")
	row := func(name string, cell func(w waitResult) string) {
		b.WriteString("| " + name + " |")
		for _, s := range stores {
			v := "—"
			if s.wait.measured() {
				v = cell(s.wait)
			}
			b.WriteString(" " + v + " |")
		}
		b.WriteString("\n")
	}
	mibCell := func(kib int64) string {
		if kib == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f MiB", mib(kib))
	}
	row("executions waiting", func(w waitResult) string {
		v := thousands(w.waiting) + " of " + thousands(w.accepted)
		if w.timedOut {
			v += " (incomplete)"
		}
		return v
	})
	row("time to all waiting (executions/s)", func(w waitResult) string {
		return fmt.Sprintf("%.1f s (%s/s)", w.toWaiting.Seconds(), thousands(int(float64(w.waiting)/w.toWaiting.Seconds()+0.5)))
	})
	row("RSS idle, before", func(w waitResult) string { return mibCell(w.idle) })
	row("RSS peak (VmHWM) while submitting", func(w waitResult) string { return mibCell(w.peak) })
	row("RSS with all waiting, settled", func(w waitResult) string { return mibCell(w.settled) })
	row("   settled − idle, per waiting execution", func(w waitResult) string {
		return fmt.Sprintf("%+.1f MiB, %s bytes", w.growthMiB(),
			thousands(int(float64(w.settled-w.idle)*1024/float64(max(w.waiting, 1)))))
	})
	row("database growth, per waiting execution", func(w waitResult) string {
		if w.storeNow == 0 {
			return "—"
		}
		d := w.storeNow - w.storeBefore
		return fmt.Sprintf("%+.1f MiB, %s bytes", float64(d)/(1<<20), thousands(int(d/int64(max(w.waiting, 1)))))
	})
	row("inbox p50 (p90 / max)", func(w waitResult) string {
		if w.listN == 0 {
			return "—"
		}
		return fmt.Sprintf("%s (%s / %s)", msOrDash(w.listP50), msOrDash(w.listP90), msOrDash(w.listMax))
	})
	row("resume: approved → finished (resumes/s)", func(w waitResult) string {
		if w.decided == 0 {
			return "—"
		}
		v := fmt.Sprintf("%s in %.2f s (%s/s)", thousands(w.decided), w.resumeTime.Seconds(),
			thousands(int(float64(w.resumed+w.resumeFailed)/w.resumeTime.Seconds()+0.5)))
		if w.resumeTimedOut {
			v += " (incomplete)"
		}
		return v
	})
	row("   decision POST p50", func(w waitResult) string { return msOrDash(w.decideP50) })
	row("   completed / failed", func(w waitResult) string {
		if w.decided == 0 {
			return "—"
		}
		return thousands(w.resumed) + " / " + thousands(w.resumeFailed)
	})
	row("RSS after the resumes", func(w waitResult) string { return mibCell(w.afterResume) })
	b.WriteString("\n")
	for _, s := range stores {
		w := s.wait
		switch {
		case w.err != nil && !w.measured():
			fmt.Fprintf(b, "- %s: %v\n", s.label, strings.ReplaceAll(w.err.Error(), "\n", " "))
			continue
		case w.err != nil:
			fmt.Fprintf(b, "- %s: %v\n", s.label, strings.ReplaceAll(w.err.Error(), "\n", " "))
		}
		if w.settled == 0 {
			continue
		}
		fmt.Fprintf(b, "- %s: RSS with %s waiting vs idle: %+.1f MiB (bounded: ≤ %d MiB above idle)%s\n", s.label,
			thousands(w.waiting), w.growthMiB(), waitBoundMiB, mark(w.growthMiB() <= waitBoundMiB && !w.timedOut))
		if w.retries503 > 0 {
			fmt.Fprintf(b, "- %s: %d answers 503 (queue full) while submitting, retried\n", s.label, w.retries503)
		}
	}
}
