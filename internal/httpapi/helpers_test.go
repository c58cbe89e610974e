package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"flowker/internal/catalog"
	"flowker/internal/config"
	"flowker/internal/engine"
	"flowker/internal/httpapi"
	"flowker/internal/provider"
	"flowker/internal/secret"
	"flowker/internal/service"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

type harness struct {
	t        *testing.T
	app      *fiber.App
	base     string
	store    io.Closer // closed by TestHealth to simulate an outage
	engine   *engine.Engine
	draining *atomic.Bool
	dbPath   string // the SQLite file, for tests that inspect what is stored
	contract *contractWatch
	headers  []string // sent with every request before the call's own (a credential); see as
}

// with returns a copy of h that reports to t (for subtests).
func (h *harness) with(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// newHarness serves the real API over a real SQLite store in a temp dir.
// extra adds test-only routes before the server starts (Fiber builds its
// routing tree when it starts listening).
func newHarness(t *testing.T, env map[string]string, extra ...func(*fiber.App)) *harness {
	t.Helper()
	return newHarnessOpts(t, env, nil, extra...)
}

// newHarnessOpts is newHarness with the engine's test options changed by
// tune (nil: unchanged), e.g. a small queue or a quick circuit breaker.
func newHarnessOpts(t *testing.T, env map[string]string, tune func(*engine.Options), extra ...func(*fiber.App)) *harness {
	t.Helper()
	return newHarnessLog(t, env, tune, zap.NewNop(), extra...)
}

// newHarnessLog is newHarnessOpts with the API and the engine logging to
// log (tests of what is logged).
func newHarnessLog(t *testing.T, env map[string]string, tune func(*engine.Options), log *zap.Logger,
	extra ...func(*fiber.App)) *harness {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	dbPath := filepath.Join(t.TempDir(), "flowker.db")
	st, err := sqlite.Open(context.Background(), dbPath, "NORMAL")
	require.NoError(t, err)
	st.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = st.Close() })
	h := &harness{t: t, store: st, draining: &atomic.Bool{}, dbPath: dbPath}
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, secret.KeySize))
	require.NoError(t, err)
	client := provider.New(provider.Options{AllowPrivate: cfg.SSRFAllowPrivate})
	opts := engine.Options{
		Concurrency: 16, QueueSize: 64, LeaseDuration: 2 * time.Second, RescueInterval: 100 * time.Millisecond,
		Retry: engine.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond}}
	if tune != nil {
		tune(&opts)
	}
	eng := engine.New(st, box, catalog.Default(), client, log, nil, opts)
	require.NoError(t, eng.Start(context.Background()))
	t.Cleanup(func() { eng.Stop(time.Second) })
	h.engine = eng
	svc := service.New(st, box, service.WithHTTPClient(client), service.WithDispatcher(eng))
	h.app = httpapi.New(svc, cfg, log, h.draining)
	api := map[string]bool{}
	for _, r := range h.app.GetRoutes(true) {
		api[r.Method+" "+r.Path] = true
	}
	for _, add := range extra {
		add(h.app)
	}
	// Every response is checked against the OpenAPI document; no test opts
	// out (contract_test.go). Routes a test adds are not the API's: only
	// their errors are checked.
	var added []fiber.Route
	for _, r := range h.app.GetRoutes(true) {
		if !api[r.Method+" "+r.Path] {
			added = append(added, r)
		}
	}
	h.contract = watchContract(t, h.app, added)
	// A real listener, so framework refusals (body limit) take the real path.
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = httpapi.Serve(h.app, ln) }()
	t.Cleanup(func() { _ = h.app.Shutdown() })
	h.base = "http://" + ln.Addr().String()
	return h
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

// do sends body (marshalled unless it is a string or nil) as JSON.
func (h *harness) do(method, path string, body any, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(h.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, h.base+path, rd)
	require.NoError(h.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	headers = append(slices.Clone(h.headers), headers...)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	for _, f := range h.contract.take(resp.Header.Get("X-Request-Id")) {
		h.t.Errorf("%s", f)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// expect asserts the status and, for errors, the FLK code; it returns the body.
func (h *harness) expect(r response, status int, code string) map[string]any {
	h.t.Helper()
	require.Equal(h.t, status, r.status, string(r.body))
	if len(r.body) == 0 {
		return nil
	}
	m := r.json(h.t)
	if code != "" {
		require.Equal(h.t, code, m["code"], string(r.body))
		require.NotEmpty(h.t, m["title"])
		require.NotEmpty(h.t, m["message"])
		require.Len(h.t, m, 3, "error bodies have exactly code, title and message")
	}
	return m
}

// linear is a runnable workflow body: trigger → action.
func linear(name string) map[string]any {
	return map[string]any{
		"name":        name,
		"description": "validates a transaction",
		"nodes": []map[string]any{
			{"id": "hook", "type": "trigger", "position": map[string]any{"x": 10, "y": 20},
				"data": map[string]any{"triggerType": "webhook", "path": "/tx", "method": "POST"}},
			{"id": "approve", "type": "action", "name": "Approve",
				"data": map[string]any{"actionType": "set_output", "output": map[string]any{"ok": true}}},
		},
		"edges":    []map[string]any{{"id": "e1", "source": "hook", "target": "approve"}},
		"metadata": map[string]any{"team": "risk"},
	}
}
