package main

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// SIGTERM while keep-alive clients request back to back: Shutdown closes
// their connections as they go from idle to active, and the process still
// exits 0 with no panic. (A lingering close on those connections once let
// fasthttp answer a request on a socket the drain then closed; its failing
// write deadline is a panic there, 1 run in 6.)
func TestSigtermUnderKeepAliveLoad(t *testing.T) {
	t.Parallel()
	p := start(t)
	p.waitReady()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var answered atomic.Int64
	for range 64 {
		client := &http.Client{Transport: &http.Transport{}}
		go func() {
			defer client.CloseIdleConnections()
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/v1/workflows", nil)
				if err != nil {
					return
				}
				if res, err := client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
					answered.Add(1)
				} else {
					time.Sleep(time.Millisecond) // refused once shutdown began: no busy loop
				}
			}
		}()
	}
	p.poll("the clients to be under way", func() bool { return answered.Load() >= 500 })
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	code := p.wait(deadline)
	requireNoPanic(t, p.stderr.String())
	require.Equal(t, 0, code)
}
