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

// logDir, when set (-logs), keeps server logs after the run.
var logDir string

// server is one flowker process started by the bench.
type server struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	logPath string
	exited  chan struct{}
	ready   time.Duration // exec to the first 200 from /health/ready
}

// startServer runs bin in dir with exactly env (plus PATH, HOME and a free
// SERVER_ADDRESS) and waits until it is ready. The child is killed if the
// bench dies (Pdeathsig), so no server outlives a run.
func startServer(ctx context.Context, bin, dir string, env ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	s := &server{base: "http://" + addr, logPath: filepath.Join(dir, "server.log"), exited: make(chan struct{})}
	if logDir != "" {
		if err := os.MkdirAll(logDir, 0o750); err != nil {
			return nil, err
		}
		s.logPath = filepath.Join(logDir, fmt.Sprintf("flowker-%s-%s.log", filepath.Base(dir), addr[strings.LastIndexByte(addr, ':')+1:]))
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()        // the child holds its own descriptor
	s.cmd = exec.Command(bin) //nolint:noctx // stopped by stop(), gracefully, not by a context
	s.cmd.Dir = dir
	s.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"SERVER_ADDRESS=" + addr}, env...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ok, _ := httpOK(ctx, client, s.base+"/health/ready"); ok {
			s.ready = time.Since(started)
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("flowker exited before it was ready (%s); log:\n%s", s.cmd.ProcessState, s.logTail(20))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("flowker not ready after 30s; log:\n%s", s.logTail(20))
		}
	}
}

// stop sends SIGTERM and waits up to 15 s, then kills.
func (s *server) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// logTail returns the last n lines the server logged (LOG_LEVEL=warn:
// normally nothing).
func (s *server) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// memKiB reads VmRSS or VmHWM (peak RSS) of pid, in KiB.
func memKiB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", field, pid)
}

// cpuMeter is pid's CPU time from a start, to be shared out over the work
// done since.
type cpuMeter struct {
	pid   int
	start time.Duration
	err   error
}

func startCPU(pid int) cpuMeter {
	t, err := cpuTime(pid)
	return cpuMeter{pid: pid, start: t, err: err}
}

// per is the CPU used since the start per one of n units of work; 0 when
// n is 0 or either reading failed (a zero cpuMeter: never started).
func (m cpuMeter) per(n int) time.Duration {
	now, err := cpuTime(m.pid)
	if m.pid == 0 || m.err != nil || err != nil || n <= 0 {
		return 0
	}
	return (now - m.start) / time.Duration(n)
}

// cpuTime is the user+system CPU time pid has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

func freeAddr() (string, error) {
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func httpOK(ctx context.Context, client *http.Client, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}
