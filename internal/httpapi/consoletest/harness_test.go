package consoletest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"flowker/internal/catalog"
	"flowker/internal/config"
	"flowker/internal/engine"
	"flowker/internal/httpapi"
	"flowker/internal/provider"
	"flowker/internal/secret"
	"flowker/internal/service"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
	"flowker/internal/telemetry"
)

// server is a real Flowker on a random port.
type server struct {
	t    *testing.T
	base string
	key  string // X-API-Key sent by do, when auth is on
}

func newServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	// The W3C propagator, as telemetry.Setup installs it in cmd/flowker even
	// with telemetry off: a caller's traceparent is kept on its executions.
	otel.SetTextMapPropagator(telemetry.Propagator())
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	st.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = st.Close() })
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, secret.KeySize))
	require.NoError(t, err)
	client := provider.New(provider.Options{AllowPrivate: true})
	log := failureLog(t)
	eng := engine.New(st, box, catalog.Default(), client, log, nil, engine.Options{
		Concurrency: 8, QueueSize: 64, LeaseDuration: 2 * time.Second, RescueInterval: 100 * time.Millisecond,
		Retry: engine.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond}})
	require.NoError(t, eng.Start(context.Background()))
	t.Cleanup(func() { eng.Stop(time.Second) })
	svc := service.New(st, box, service.WithHTTPClient(client), service.WithDispatcher(eng))
	app := httpapi.New(svc, cfg, log, &atomic.Bool{})
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = httpapi.Serve(app, ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return &server{t: t, base: "http://" + ln.Addr().String(), key: env["API_KEY"]}
}

// failureLog keeps the server's warnings and errors and prints them if the
// test fails: a page showing stale data after a failed request says why.
// (Not the test's own log: the engine may still write after the test.)
func failureLog(t *testing.T) *zap.Logger {
	core, logs := observer.New(zap.WarnLevel)
	t.Cleanup(func() {
		if t.Failed() {
			for _, e := range logs.All() {
				t.Logf("server %s: %s %v", e.Level, e.Message, e.ContextMap())
			}
		}
	})
	return zap.New(core)
}

// do calls the API and decodes a JSON answer, requiring status want.
func (s *server) do(method, path string, body any, want int, headers ...string) map[string]any {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(s.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.base+path, rd)
	require.NoError(s.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.key != "" {
		req.Header.Set("X-API-Key", s.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	require.Equal(s.t, want, resp.StatusCode, "%s %s: %s", method, path, raw)
	var m map[string]any
	if len(raw) > 0 {
		require.NoError(s.t, json.Unmarshal(raw, &m), string(raw))
	}
	return m
}

// activeWorkflow creates and activates a workflow; it returns its id.
func (s *server) activeWorkflow(name string, nodes, edges []map[string]any) string {
	s.t.Helper()
	id := s.do("POST", "/v1/workflows", map[string]any{"name": name, "nodes": nodes, "edges": edges}, http.StatusCreated)["workflowId"].(string)
	s.do("POST", "/v1/workflows/"+id+"/activate", nil, http.StatusOK)
	return id
}

// start starts an execution and returns its id.
func (s *server) start(workflowID string, input map[string]any) string {
	s.t.Helper()
	res := s.do("POST", "/v1/workflows/"+workflowID+"/executions", map[string]any{"inputData": input},
		http.StatusCreated, "Idempotency-Key", uuid.NewString())
	return res["executionId"].(string)
}

// await polls an execution until its status is want.
func (s *server) await(id, want string) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := s.do("GET", "/v1/executions/"+id, nil, http.StatusOK)["status"]
		if got == want {
			return
		}
		require.True(s.t, time.Now().Before(deadline), "execution %s: status %v, want %s", id, got, want)
		time.Sleep(50 * time.Millisecond)
	}
}

// chromium finds a Chromium or Chrome binary: skipped without one, unless
// CI=true (then the browser tests must run).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no chromium binary on PATH: install it (apt-get install -y chromium)")
	}
	t.Skip("no chromium binary on PATH: browser tests skipped (install chromium, or set CI=true to make this a failure)")
	return ""
}

// browser is one headless Chromium tab with a record of what went wrong in
// the page: uncaught exceptions, console.error calls, error log entries
// (failed loads, CSP violations) and JavaScript dialogs (alert & co).
type browser struct {
	t       *testing.T
	ctx     context.Context
	base    string
	shots   string // screenshot directory
	mu      sync.Mutex
	errs    []string
	dialogs []string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	bin := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 1000),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base, shots: screenshotDir(t)}
	b.listen()
	return b
}

// tab opens a second tab in b's browser, with its own record of errors
// and its own sessionStorage (so its own sign-in).
func (b *browser) tab() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	o := &browser{t: b.t, ctx: ctx, base: b.base, shots: b.shots}
	o.listen()
	return o
}

// listen records what goes wrong in the tab.
func (b *browser) listen() {
	ctx, t := b.ctx, b.t
	// Runtime, Log and Page events are enabled by chromedp on every tab.
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.errs = append(b.errs, "exception: "+(&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error())
		case *runtime.EventConsoleAPICalled:
			if string(e.Type) == "error" {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errs = append(b.errs, "console.error: "+strings.Join(parts, " "))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				b.errs = append(b.errs, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *page.EventJavascriptDialogOpening:
			b.dialogs = append(b.dialogs, string(e.Type)+": "+e.Message)
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	}))
}

var (
	shotOnce sync.Once
	shotDir  string
)

// screenshotDir is one directory for the whole run ($CONSOLE_SCREENSHOTS,
// or a temp dir kept after the run so the pictures can be looked at).
func screenshotDir(t *testing.T) string {
	shotOnce.Do(func() {
		shotDir = os.Getenv("CONSOLE_SCREENSHOTS")
		if shotDir == "" {
			shotDir = filepath.Join(os.TempDir(), "flowker-console-screenshots")
		}
		_ = os.MkdirAll(shotDir, 0o750)
	})
	t.Logf("screenshots in %s", shotDir)
	return shotDir
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...))
}

// open navigates to a console path and waits for the page's marker.
func (b *browser) open(path, ready string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(ready)))
}

// waitText waits until the element's text contains want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		got = eval[string](b, "(document.querySelector("+jsString(sel)+") || {}).innerText || ''")
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s: text %q does not contain %q; page text:\n%s", sel, got, want, b.bodyText())
}

// waitExactText waits until the element's text, trimmed, is want: for a
// state whose name is part of another's ("configured" is in
// "unconfigured"), where waitText would return at once, before the change.
func (b *browser) waitExactText(sel, want string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%s to read %q", sel, want),
		"((document.querySelector("+jsString(sel)+") || {}).innerText || '').trim() === "+jsString(want))
}

// eval evaluates JavaScript and returns its result (chromedp.EvalAwaitPromise
// to wait for a promise's).
func eval[T any](b *browser, js string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, opts...))
	require.NoError(b.t, err, js)
	return out
}

// shot saves a full-page screenshot as name.png.
func (b *browser) shot(name string) string {
	b.t.Helper()
	time.Sleep(300 * time.Millisecond) // let the graph settle (fitView)
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	p := filepath.Join(b.shots, name+".png")
	require.NoError(b.t, os.WriteFile(p, buf, 0o600))
	return p
}

// clean requires that nothing went wrong in the page so far, ignoring
// entries that contain one of the allowed substrings.
func (b *browser) clean(allowed ...string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var bad []string
next:
	for _, e := range b.errs {
		for _, a := range allowed {
			if strings.Contains(e, a) {
				continue next
			}
		}
		bad = append(bad, e)
	}
	require.Empty(b.t, bad, "errors in the page")
	require.Empty(b.t, b.dialogs, "JavaScript dialogs opened")
}

func jsString(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}

// bodyText is the page's visible text.
func (b *browser) bodyText() string { return eval[string](b, "document.body.innerText") }

// click clicks the first element matching the CSS selector.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.run(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// clickNode selects a node of the drawn graph: a click dispatched on the
// node itself, not at screen coordinates the graph's fitView may still be
// moving under.
func (b *browser) clickNode(id string) {
	b.t.Helper()
	b.waitFor("node "+id+" to click", `(() => { const el = document.querySelector('[data-node-id=`+jsString(id)+`]');
		if (!el) return false; el.click(); return true })()`)
}

// clickText clicks the first element matching sel whose text contains text.
// It waits for the element: a page's rows arrive after its table is drawn.
func (b *browser) clickText(sel, text string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("a %s with text %q to click", sel, text), fmt.Sprintf(`(() => {
		const el = [...document.querySelectorAll(%s)].find(e => e.innerText.includes(%s));
		if (!el) return false; el.click(); return true })()`, jsString(sel), jsString(text)))
}

// setValue sets a React-controlled input's value and fires its input event.
func (b *browser) setValue(sel, value string) {
	b.t.Helper()
	ok := eval[bool](b, fmt.Sprintf(`(() => { const el = document.querySelector(%s); if (!el) return false;
		const proto = el.tagName === "TEXTAREA" ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
		Object.getOwnPropertyDescriptor(proto, "value").set.call(el, %s);
		el.dispatchEvent(new Event("input", { bubbles: true })); return true })()`, jsString(sel), jsString(value)))
	require.True(b.t, ok, "no element %s", sel)
}

// selectValue chooses a React-controlled select's option and fires its change event.
func (b *browser) selectValue(sel, value string) {
	b.t.Helper()
	ok := eval[bool](b, fmt.Sprintf(`(() => { const el = document.querySelector(%s); if (!el) return false;
		Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, "value").set.call(el, %s);
		el.dispatchEvent(new Event("change", { bubbles: true })); return el.value === %s })()`, jsString(sel), jsString(value), jsString(value)))
	require.True(b.t, ok, "no option %q in %s", value, sel)
}

// waitFor waits until the JavaScript expression is true.
func (b *browser) waitFor(what, js string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !eval[bool](b, js) {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s (%s); page text:\n%s", what, js, b.bodyText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsonText(v any) (string, error) {
	raw, err := json.MarshalIndent(v, "", "  ")
	return string(raw), err
}
