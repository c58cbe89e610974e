package main

// Process-level tests: build the real binary once, run it with a controlled
// environment in a fresh working directory, and watch it from outside.

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
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/store/storetest"
)

// binary is the flowker executable built by TestMain; empty when the tests
// must be skipped because no Go toolchain is available.
var binary string

// deadline bounds every wait in this file: for a process to answer, or to exit.
const deadline = 10 * time.Second

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if _, err := exec.LookPath("go"); err != nil {
		fmt.Fprintln(os.Stderr, "cmd/flowker: go is not on PATH; the process tests will be skipped")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "flowker-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cmd/flowker:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	pkgDir, err := os.Getwd() // go test runs a package's tests in its directory
	if err != nil {
		fmt.Fprintln(os.Stderr, "cmd/flowker:", err)
		return 1
	}
	out := filepath.Join(dir, "flowker")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	build.Dir = pkgDir
	if b, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "cmd/flowker: go build failed: %v\n%s", err, b)
		return 1
	}
	binary = out
	return m.Run()
}

// syncBuffer is a bytes.Buffer safe to read while the process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is one running flowker.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	dir    string // working directory
	addr   string // host:port it was told to serve
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan struct{} // closed once the process has exited and its output is collected
	client *http.Client
}

// freeAddr returns a 127.0.0.1 address free a moment ago, for a flowker
// process to listen on. The port is closed before the process binds it,
// so it is taken below the kernel's ephemeral range: a port from that
// range could meanwhile go to a listener on port 0 (a parallel test's fake
// provider, which then answered this test's requests) or to an outgoing
// connection. Each port is handed out once per test binary; the starting
// point differs between binaries, which go test may run at once.
func freeAddr(t *testing.T) string {
	t.Helper()
	freePorts.Lock()
	defer freePorts.Unlock()
	low := ephemeralLow()
	if freePorts.next == 0 {
		freePorts.next = low/2 + os.Getpid()%(low/4)
	}
	var lc net.ListenConfig
	for ; freePorts.next < low; freePorts.next++ {
		addr := fmt.Sprintf("127.0.0.1:%d", freePorts.next)
		if ln, err := lc.Listen(t.Context(), "tcp", addr); err == nil {
			require.NoError(t, ln.Close())
			freePorts.next++
			return addr
		}
	}
	t.Fatalf("no free port below the ephemeral range (%d)", low)
	return ""
}

var freePorts struct {
	sync.Mutex
	next int
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// ip_local_port_range; its default elsewhere).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		_, _ = fmt.Sscan(string(b), &low)
	}
	return low
}

// start runs flowker in a fresh directory with PATH, HOME and env only.
// SERVER_ADDRESS defaults to a free local port. The process is killed when
// the test ends if it is still running.
func start(t *testing.T, env ...string) *proc {
	t.Helper()
	if binary == "" {
		t.Skip("go is not on PATH: cannot build flowker")
	}
	p := &proc{
		t:      t,
		dir:    t.TempDir(),
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		exited: make(chan struct{}),
		client: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}},
	}
	full := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	hasAddr := false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "SERVER_ADDRESS="); ok {
			hasAddr, p.addr = true, v
		}
	}
	if !hasAddr {
		p.addr = freeAddr(t)
		full = append(full, "SERVER_ADDRESS="+p.addr)
	}
	full = append(full, env...)

	// t.Context is cancelled when the test ends, which kills the process if
	// it is still running.
	p.cmd = exec.CommandContext(t.Context(), binary)
	p.cmd.Dir = p.dir
	p.cmd.Env = full
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	// Registered after t.TempDir, so it runs first: the process (killed by
	// t.Context's cancellation just before cleanups) is gone before its
	// directory is removed.
	t.Cleanup(func() {
		p.client.CloseIdleConnections()
		<-p.exited
		if t.Failed() {
			t.Logf("flowker stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		p.t.Fatalf("flowker did not exit within %s; stderr:\n%s", within, p.stderr.String())
		return -1
	}
}

// get fetches path and decodes its JSON body. A transport error is returned,
// not fatal, so callers can poll.
func (p *proc) get(path string) (int, map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s: body is not a JSON object: %q", path, raw)
	}
	return resp.StatusCode, body, nil
}

// mustGet is get for a server known to be up.
func (p *proc) mustGet(path string) (int, map[string]any) {
	p.t.Helper()
	code, body, err := p.get(path)
	require.NoError(p.t, err)
	return code, body
}

// poll calls cond every few milliseconds until it returns true, the process
// exits, or the deadline passes.
func (p *proc) poll(what string, cond func() bool) {
	p.t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for !cond() {
		select {
		case <-tick.C:
		case <-p.exited:
			p.t.Fatalf("flowker exited (code %d) while waiting for %s; stderr:\n%s",
				p.cmd.ProcessState.ExitCode(), what, p.stderr.String())
		case <-timeout:
			p.t.Fatalf("timed out after %s waiting for %s; stderr:\n%s", deadline, what, p.stderr.String())
		}
	}
}

// waitReady polls /health/ready until it answers 200.
func (p *proc) waitReady() {
	p.t.Helper()
	p.poll("/health/ready to answer 200", func() bool {
		code, _, err := p.get("/health/ready")
		return err == nil && code == http.StatusOK
	})
}

// logLines returns the process's stderr, one entry per non-empty line.
func (p *proc) logLines() []string {
	var out []string
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func requireNoPanic(t *testing.T, output string) {
	t.Helper()
	require.NotContains(t, output, "panic")
	require.NotContains(t, output, "goroutine")
}

func TestBadConfigurationExitsWithOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		want string // the variable the message must name
	}{
		{"log level", []string{"LOG_LEVEL=loud"}, "LOG_LEVEL"},
		{"database scheme", []string{"DATABASE_URL=mysql://x"}, "DATABASE_URL"},
		{"duration", []string{"SHUTDOWN_TIMEOUT=abc"}, "SHUTDOWN_TIMEOUT"},
		{"telemetry without endpoint", []string{"ENABLE_TELEMETRY=true"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := start(t, tt.env...)
			require.Equal(t, 1, p.wait(deadline))
			stderr := p.stderr.String()
			require.Len(t, p.logLines(), 1, "stderr must be exactly one line: %q", stderr)
			require.True(t, strings.HasSuffix(stderr, "\n"), "stderr: %q", stderr)
			require.Contains(t, stderr, tt.want)
			requireNoPanic(t, stderr)
			require.Empty(t, p.stdout.String())
			require.NoDirExists(t, filepath.Join(p.dir, "data"), "nothing is created before the configuration is valid")
		})
	}
}

func TestDefaultStartUsesSQLiteUnderData(t *testing.T) {
	t.Parallel()
	p := start(t)
	p.waitReady()

	require.FileExists(t, filepath.Join(p.dir, "data", "flowker.db"))

	code, body := p.mustGet("/health/ready")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "sqlite", databaseDriver(t, body))

	code, body = p.mustGet("/health/live")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "alive", body["status"])
	require.NotEmpty(t, body["version"])
}

func TestVersionFromEnvironment(t *testing.T) {
	t.Parallel()
	p := start(t, "VERSION=9.9.9-test")
	p.waitReady()
	for _, path := range []string{"/health", "/readyz", "/version", "/health/live", "/health/ready"} {
		code, body := p.mustGet(path)
		require.Equal(t, http.StatusOK, code, path)
		require.Equal(t, "9.9.9-test", body["version"], path)
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	p := start(t, "SHUTDOWN_DRAIN_DELAY=1s")
	p.waitReady()

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	signaled := time.Now()

	// Readiness flips as soon as the signal is handled; the 1s drain keeps
	// the listener open long enough to see it.
	var body map[string]any
	p.poll("/health/ready to report draining", func() bool {
		var code int
		var err error
		code, body, err = p.get("/health/ready")
		require.NoError(t, err, "the server must keep answering while draining")
		return code == http.StatusServiceUnavailable
	})
	require.Equal(t, true, body["draining"])
	require.Equal(t, "unhealthy", body["status"])

	code, _ := p.mustGet("/health/live")
	require.Equal(t, http.StatusOK, code, "liveness must not fail while draining")

	require.Equal(t, 0, p.wait(5*time.Second))
	require.GreaterOrEqual(t, time.Since(signaled), time.Second, "the drain delay is honoured")

	lines := p.logLines()
	require.NotEmpty(t, lines)
	var last struct {
		Level   string `json:"level"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last), "last line: %s", lines[len(lines)-1])
	require.Equal(t, "stopped", last.Message)
	require.Equal(t, "info", last.Level)
	for _, l := range lines {
		require.NotContains(t, l, `"level":"warn"`, "a clean shutdown logs no warning")
		require.NotContains(t, l, `"level":"error"`)
	}
	requireNoPanic(t, p.stderr.String())
}

// There is no slow endpoint yet, so the in-flight request is a slow client:
// it sends half a request before SIGTERM and the rest only once the
// listener is closed (shutdown proper has begun). The server must still
// answer it, then exit 0.
func TestInFlightRequestCompletesDuringShutdown(t *testing.T) {
	t.Parallel()
	p := start(t, "SHUTDOWN_DRAIN_DELAY=1s")
	p.waitReady()

	var d net.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(deadline)))
	_, err = io.WriteString(conn, "GET /health/live HTTP/1.1\r\nHost: flowker\r\n")
	require.NoError(t, err)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.poll("/health/ready to report draining", func() bool {
		code, _, err := p.get("/health/ready")
		return err == nil && code == http.StatusServiceUnavailable
	})
	p.poll("the listener to close after the drain delay", func() bool {
		c, err := d.DialContext(ctx, "tcp", p.addr)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	})

	_, err = io.WriteString(conn, "\r\n")
	require.NoError(t, err)
	resp, err := io.ReadAll(conn) // the server closes the connection after answering
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(resp), "HTTP/1.1 200 "), "response: %q", resp)
	require.Contains(t, string(resp), `"status":"alive"`)

	require.Equal(t, 0, p.wait(5*time.Second))
	lines := p.logLines()
	require.Contains(t, lines[len(lines)-1], `"message":"stopped"`)
}

func TestBindFailureExits(t *testing.T) {
	t.Parallel()
	var lc net.ListenConfig
	busy, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = busy.Close() })

	p := start(t, "SERVER_ADDRESS="+busy.Addr().String())
	require.Equal(t, 1, p.wait(deadline))
	stderr := p.stderr.String()
	require.Contains(t, stderr, "cannot listen")
	require.Contains(t, stderr, busy.Addr().String())
	requireNoPanic(t, stderr)
}

func TestPostgresReady(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t) // skips without FLOWKER_TEST_DATABASE_URL
	p := start(t, "DATABASE_URL="+url, "FLOWKER_SECRET_KEY=MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=")
	p.waitReady()

	code, body := p.mustGet("/health/ready")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "postgresql", databaseDriver(t, body))
	require.NoDirExists(t, filepath.Join(p.dir, "data"), "no SQLite file when PostgreSQL is configured")
}

func TestUnreachableDatabaseExits(t *testing.T) {
	t.Parallel()
	p := start(t, "DATABASE_URL=postgres://postgres:s3cret-pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2",
		"FLOWKER_SECRET_KEY=MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=")
	require.Equal(t, 1, p.wait(deadline))
	stderr := p.stderr.String()
	require.Contains(t, stderr, "cannot open the database")
	require.NotContains(t, stderr, "s3cret-pw", "the password must not be logged")
	requireNoPanic(t, stderr)
}

// databaseDriver digs checks.database.driver out of a readiness body.
func databaseDriver(t *testing.T, body map[string]any) string {
	t.Helper()
	checks, ok := body["checks"].(map[string]any)
	require.True(t, ok, "checks: %v", body)
	db, ok := checks["database"].(map[string]any)
	require.True(t, ok, "checks.database: %v", body)
	driver, _ := db["driver"].(string)
	return driver
}
