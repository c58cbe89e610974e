package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Phase t: the cost of telemetry. Phase a's load runs on servers exporting
// traces, metrics and logs over OTLP/gRPC to a real OpenTelemetry Collector
// on loopback, and its throughput is compared with the same load on
// servers with telemetry off (the default), run side by side. The collector is the one the end-to-end telemetry test uses
// (../shared/tools/otelcol/build.sh), given a config of its own: the OTLP
// receiver and the debug exporter with its output at warn, so it decodes
// everything and writes nothing; its own metrics, read over Prometheus on
// loopback, say how many spans and log records arrived.

// telemetryGoal is the least throughput with telemetry on, as a share of
// the throughput with it off.
const telemetryGoal = 0.85

// telemetryMetricInterval is OTEL_METRIC_EXPORT_INTERVAL for the run: a few
// exports inside it (the default, 60 s, could leave none).
const telemetryMetricInterval = "10000"

func defaultOtelcol() string {
	if v := os.Getenv("FLOWKER_OTELCOL_BIN"); v != "" {
		return v
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	if p := filepath.Join(cache, "flowker-otelcol", "otelcol-file"); isExecutable(p) {
		return p
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// measureTelemetry runs phase t on st: a's load on four fresh servers,
// telemetry off, on, on, off, the two "on" exporting to one fresh
// collector. Compared side by side in that order, a drift of the machine
// over the four runs weighs on both sides alike; a's own run, minutes
// earlier, is not compared (this machine swings by a fifth within the
// hour).
func measureTelemetry(ctx context.Context, o options, f *fake, st *benchStore, work string, res *storeResult) {
	if o.otelcolBin == "" || !isExecutable(o.otelcolBin) {
		res.telemetryErr = errors.New("no OpenTelemetry Collector: build it with bash ../shared/tools/otelcol/build.sh " +
			"(cached in ~/.cache/flowker-otelcol) or pass -otelcol-bin / FLOWKER_OTELCOL_BIN")
		return
	}
	col, err := startCollector(ctx, o.otelcolBin, filepath.Join(work, "otelcol"))
	if err != nil {
		res.telemetryErr = err
		return
	}
	defer col.stop()
	spans0, _ := col.accepted(ctx, "spans")
	var collectorCPU time.Duration
	for i, on := range telemetryOrder {
		dir := filepath.Join(work, fmt.Sprintf("telemetry-%d", i))
		if !on {
			progress("%s: telemetry off, %d async webhook calls from %d clients", st.label, o.n, o.c)
			res.telemetryRuns[i] = loadFreshServer(ctx, o, f, st, dir, st.label+" telemetry off")
			continue
		}
		progress("%s: telemetry on (OTLP to the collector on %s), %d async webhook calls from %d clients",
			st.label, col.grpcAddr, o.n, o.c)
		cpu0, _ := cpuTime(col.pid())
		res.telemetryRuns[i] = loadFreshServer(ctx, o, f, st, dir, st.label+" telemetry on", "ENABLE_TELEMETRY=true",
			"OTEL_EXPORTER_OTLP_ENDPOINT="+col.grpcAddr, "OTEL_METRIC_EXPORT_INTERVAL="+telemetryMetricInterval)
		cpu1, _ := cpuTime(col.pid()) // the server has stopped: what it buffered is flushed
		collectorCPU += cpu1 - cpu0
	}
	res.telemetryOff, res.telemetryOn = res.telemetrySide(false), res.telemetrySide(true)
	if n := res.telemetryOn.completed + res.telemetryOn.failed; n > 0 {
		res.collectorCPUPerExec = collectorCPU / time.Duration(n)
	}
	spans1, err := col.accepted(ctx, "spans")
	if err != nil {
		res.telemetryErr = fmt.Errorf("reading the collector's metrics: %w", err)
		return
	}
	res.collectorSpans = spans1 - spans0
	if res.collectorSpans == 0 {
		res.telemetryErr = errors.New("the collector received no spans: telemetry was not exported")
	}
	progress("%s: collector CPU %s/execution, %s spans received", st.label, ms(res.collectorCPUPerExec),
		thousands(int(res.collectorSpans)))
}

// telemetryOrder is phase t's runs: telemetry on or off.
var telemetryOrder = [4]bool{false, true, true, false}

// telemetrySide adds up phase t's runs with telemetry on, or off.
func (s *storeResult) telemetrySide(on bool) throughput {
	var runs []throughput
	for i, t := range s.telemetryRuns {
		if telemetryOrder[i] == on {
			runs = append(runs, t)
		}
	}
	return sumRuns(runs...)
}

// telemetryRatio is throughput with telemetry on ÷ off (0: not measured).
func telemetryRatio(s storeResult) float64 {
	if !s.telemetryOff.measured() || !s.telemetryOn.measured() {
		return 0
	}
	return s.telemetryOn.perSec / s.telemetryOff.perSec
}

// loadFreshServer boots a server in dir, runs phase a's load on it and
// stops it.
func loadFreshServer(ctx context.Context, o options, f *fake, st *benchStore, dir, label string, extra ...string) throughput {
	srv, hook, db, err := bootServer(ctx, o, st, dir, referenceWorkflow(f), append([]string{loadQueue(o)}, extra...)...)
	if err != nil {
		return throughput{err: err}
	}
	defer srv.stop()
	defer db.Close()
	return runLoad(ctx, o, label, srv.pid(), allExecutions(db), nil, hook)
}

// collector is an OpenTelemetry Collector process started by the bench.
type collector struct {
	cmd        *exec.Cmd
	grpcAddr   string // OTLP/gRPC receiver
	metricsURL string // its own metrics, Prometheus text
	logPath    string
	exited     chan struct{}
}

// collectorConfig receives OTLP/gRPC on loopback and drops everything in
// the debug exporter (its one line per batch is logged at info, below the
// service's warn); the service's own metrics are served for accepted().
const collectorConfig = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "%s"
exporters:
  debug:
    verbosity: basic
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: basic
      readers:
        - pull:
            exporter:
              prometheus:
                host: "127.0.0.1"
                port: %s
  pipelines:
    traces: {receivers: [otlp], exporters: [debug]}
    metrics: {receivers: [otlp], exporters: [debug]}
    logs: {receivers: [otlp], exporters: [debug]}
`

// startCollector runs bin with its own config in dir and waits until its
// receiver and metrics endpoint answer. Like the servers, it dies with the
// bench (Pdeathsig).
func startCollector(ctx context.Context, bin, dir string) (*collector, error) {
	grpcAddr, err1 := freeAddr()
	metricsAddr, err2 := freeAddr()
	if err := errors.Join(err1, err2, os.MkdirAll(dir, 0o750)); err != nil {
		return nil, err
	}
	_, metricsPort, _ := net.SplitHostPort(metricsAddr)
	config := filepath.Join(dir, "otelcol.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, collectorConfig, grpcAddr, metricsPort), 0o600); err != nil {
		return nil, err
	}
	c := &collector{grpcAddr: grpcAddr, metricsURL: "http://" + metricsAddr + "/metrics",
		logPath: filepath.Join(dir, "otelcol.log"), exited: make(chan struct{})}
	logf, err := os.Create(c.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	c.cmd = exec.Command(bin, "--config", config) //nolint:noctx,gosec // stopped by stop(); the binary is the operator's
	c.cmd.Dir = dir
	c.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := c.accepted(ctx, "spans"); err == nil && dials(ctx, grpcAddr) {
			return c, nil
		}
		select {
		case <-c.exited:
			return nil, fmt.Errorf("the collector exited (%s); log:\n%s", c.cmd.ProcessState, tail(c.logPath, 20))
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("the collector did not answer in 30 s; log:\n%s", tail(c.logPath, 20))
		}
	}
}

func (c *collector) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM and waits up to 10 s, then kills.
func (c *collector) stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// accepted sums the collector's otelcol_receiver_accepted_<what> counters
// (what: spans, metric_points, log_records).
func (c *collector) accepted(ctx context.Context, what string) (int64, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	code, raw, err := get(ctx, client, c.metricsURL)
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("collector metrics: status %d", code)
	}
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "otelcol_receiver_accepted_"+what) {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return int64(sum), sc.Err()
}

func dials(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	conn, err := new(net.Dialer).DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
