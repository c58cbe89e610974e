package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// runColdStart starts the server -runs times and reports exec-to-ready times.
func runColdStart(o options) error {
	if o.bin == "" || o.runs < 1 {
		return errors.New("cold-start needs -bin and -runs >= 1")
	}
	bin, err := filepath.Abs(o.bin) // the child runs in another directory
	if err != nil {
		return err
	}
	times := make([]time.Duration, o.runs)
	for i := range times {
		if times[i], err = coldStartOnce(bin, o.keepDBEnv); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
	}
	slices.Sort(times)
	r := struct {
		Mode string  `json:"mode"`
		Runs int     `json:"runs"`
		Min  float64 `json:"min_ms"`
		P50  float64 `json:"p50_ms"`
		Max  float64 `json:"max_ms"`
	}{o.mode, o.runs, ms(times, 0), ms(times, 0.5), ms(times, 1)}
	return report(o, r, fmt.Sprintf("cold-start x%d (exec to /health/ready 200): min %.1f ms, p50 %.1f ms, max %.1f ms",
		r.Runs, r.Min, r.P50, r.Max))
}

// coldStartOnce starts bin in a fresh directory (empty SQLite database) on
// a free port, times exec to the first 200 from /health/ready, then sends
// SIGTERM and waits for a clean exit (killing it after 5 s).
func coldStartOnce(bin string, keepDBEnv bool) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "flowker-cold-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer logf.Close()

	ctx, terminate := context.WithCancel(context.Background())
	defer terminate()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logf, logf
	cmd.Env = append(childEnv(keepDBEnv), "SERVER_ADDRESS="+addr)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second // then SIGKILL

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // the outcome is read from cmd.ProcessState

	elapsed, err := waitReady("http://"+addr+"/health/ready", start, exited)
	terminate()
	<-exited
	if err == nil && !cmd.ProcessState.Success() {
		err = fmt.Errorf("server did not exit cleanly on SIGTERM: %v", cmd.ProcessState)
	}
	if err != nil {
		log, _ := os.ReadFile(logPath)
		return 0, fmt.Errorf("%w\n--- server log ---\n%s", err, log)
	}
	return elapsed, nil
}

// waitReady polls url every millisecond until it answers 200.
func waitReady(url string, start time.Time, exited <-chan struct{}) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for time.Since(start) < 30*time.Second {
		select {
		case <-exited:
			return 0, errors.New("server exited before it was ready")
		default:
		}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return 0, errors.New("server not ready after 30s")
}

// childEnv is this environment without SERVER_ADDRESS and, unless keepDB,
// without DATABASE_URL (so the child opens a fresh SQLite file).
func childEnv(keepDB bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "SERVER_ADDRESS" && (k != "DATABASE_URL" || keepDB) {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr asks the kernel for a free loopback port. Another process could
// take it before the server binds it; that run then fails loudly.
func freeAddr() (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
