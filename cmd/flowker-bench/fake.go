package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fake plays Tracer and Midaz on one loopback port: POST /v1/validations
// answers ALLOW, POST …/transactions/json answers 201 with a transaction,
// both with small realistic JSON and, by default, at once.
//
// It measures itself: the time spent in its handler per execution (the
// Idempotency-Key is "<executionId>/<nodeId>"), and how many calls are
// inside it at once.
type fake struct {
	srv *http.Server
	url string

	delay    atomic.Int64  // answer no sooner than this after arrival (ns)
	gate     chan struct{} // when non-nil, answers also wait until it is closed
	gateMu   sync.Mutex
	inside   atomic.Int64 // calls being answered now
	peak     atomic.Int64 // highest inside seen
	calls    atomic.Int64
	errors   atomic.Int64 // unknown paths
	record   atomic.Bool  // keep per-execution handler time
	mu       sync.Mutex
	perExec  map[string]time.Duration
	totalDur atomic.Int64 // ns in the handler, all calls
}

func startFake() (*fake, error) {
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fake{url: "http://" + ln.Addr().String(), perExec: map[string]time.Duration{}}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *fake) close() {
	f.openGate()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
	_ = f.srv.Close()
}

// hold makes answers wait (from now) until openGate, on top of the delay.
func (f *fake) hold() {
	f.gateMu.Lock()
	defer f.gateMu.Unlock()
	f.gate = make(chan struct{})
}

func (f *fake) openGate() {
	f.gateMu.Lock()
	defer f.gateMu.Unlock()
	if f.gate != nil {
		close(f.gate)
		f.gate = nil
	}
}

func (f *fake) currentGate() chan struct{} {
	f.gateMu.Lock()
	defer f.gateMu.Unlock()
	return f.gate
}

// take returns and forgets the handler time spent on one execution.
func (f *fake) take(executionID string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.perExec[executionID]
	delete(f.perExec, executionID)
	return d
}

func (f *fake) resetPeak() { f.peak.Store(f.inside.Load()) }

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	raise(&f.peak, f.inside.Add(1))
	defer f.inside.Add(-1)
	f.calls.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)

	if d := time.Duration(f.delay.Load()); d > 0 || f.currentGate() != nil {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		if g := f.currentGate(); g != nil {
			select {
			case <-g:
			case <-r.Context().Done():
				return
			}
		}
		arrived = time.Now() // the deliberate wait is not provider time
	}

	key := r.Header.Get("Idempotency-Key")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/validations"):
		//nolint:gosec // G705: a loopback fake; echoed header values are stripped of JSON metacharacters by jsonSafe
		_, _ = fmt.Fprintf(w, `{"validationId":"val-%s","requestId":"%s","decision":"ALLOW","riskScore":12,`+
			`"reasons":[],"matchedRules":[],"processedAt":"%s"}`,
			jsonSafe(key), jsonSafe(r.Header.Get("X-Request-Id")), arrived.UTC().Format(time.RFC3339Nano))
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/transactions/json"):
		w.WriteHeader(http.StatusCreated)
		//nolint:gosec // G705: as above
		_, _ = fmt.Fprintf(w, `{"id":"tx-%s","status":{"code":"APPROVED"},"amount":"125.50","assetCode":"BRL",`+
			`"chartOfAccountsGroupName":"PIX","createdAt":"%s"}`, jsonSafe(key), arrived.UTC().Format(time.RFC3339Nano))
	default:
		f.errors.Add(1)
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"code":"NOT_FOUND","message":"no such route in the fake"}`)
	}
	spent := time.Since(arrived)
	f.totalDur.Add(int64(spent))
	if f.record.Load() {
		exec, _, _ := strings.Cut(key, "/")
		f.mu.Lock()
		f.perExec[exec] += spent
		f.mu.Unlock()
	}
}

// raise sets peak to v if v is larger.
func raise(peak *atomic.Int64, v int64) {
	for {
		cur := peak.Load()
		if v <= cur || peak.CompareAndSwap(cur, v) {
			return
		}
	}
}

// jsonSafe keeps a header value from breaking the JSON it is pasted into.
func jsonSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 {
			return -1
		}
		return r
	}, s)
}
