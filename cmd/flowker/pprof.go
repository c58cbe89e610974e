//go:build pprof

// Profiling for benchmarks only: built with `go build -tags pprof`, the
// binary serves net/http/pprof on PPROF_ADDR (a loopback address), so
// docs/benchmarks.md can say where the time goes. Release builds have no
// such listener at all.
package main

import (
	"net"
	"net/http"
	_ "net/http/pprof" //nolint:gosec // loopback only, and only in -tags pprof builds
	"os"
)

func init() {
	addr := os.Getenv("PPROF_ADDR")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		panic("PPROF_ADDR must be a loopback IP and port, e.g. 127.0.0.1:6060")
	}
	go func() { _ = http.ListenAndServe(addr, nil) }() //nolint:gosec // profiling aid, loopback only
}
