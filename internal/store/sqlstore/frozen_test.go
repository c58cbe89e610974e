package sqlstore_test

import (
	"context"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// freezer forwards TCP connections to a server until freeze; from then on
// it forwards nothing either way but keeps every connection open: a
// black-holed network, a paused server host.
type freezer struct {
	addr   string
	frozen chan struct{}
	once   sync.Once
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &freezer{addr: ln.Addr().String(), frozen: make(chan struct{})}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c, target, stop)
		}
	}()
	return f
}

func (f *freezer) freeze() { f.once.Do(func() { close(f.frozen) }) }

func (f *freezer) serve(c net.Conn, target string, stop <-chan struct{}) {
	defer func() { _ = c.Close() }()
	up, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", target)
	if err != nil {
		return
	}
	defer func() { _ = up.Close() }()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			select {
			case <-f.frozen:
				return // swallowed; the connections stay open until the test ends
			default:
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go pipe(up, c)
	pipe(c, up)
	<-stop
}

// TestPipelinedFrozenServer: a progress write alone travels with COMMIT;
// the server stops answering as it is sent (and its cancel request is lost
// too). The caller is answered ErrUnavailable soon after the batch's
// deadline and the grace a round trip carrying COMMIT is given (not never:
// found by a review, when the grace did not apply), and Close returns.
func TestPipelinedFrozenServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u, err := url.Parse(storetest.PostgresURL(t))
	require.NoError(t, err)
	migrated, err := postgres.Open(ctx, u.String(), 1)
	require.NoError(t, err)
	require.NoError(t, migrated.Close())
	f := newFreezer(t, u.Host)
	u.Host = f.addr
	ps, err := postgres.Open(ctx, u.String(), 3)
	require.NoError(t, err)
	s := ps.DB
	const deadline = time.Second
	sqlstore.SetBatchTimeout(s, deadline)
	sqlstore.SetCloseGrace(s, 200*time.Millisecond)
	e := pipelinedExec(t, s, "me")

	start := time.Now()
	done := make(chan error, 1)
	go func() {
		done <- s.Batch(ctx, func(tx store.Tx) error {
			f.freeze() // the batch's connection is held: its round trip goes nowhere
			return tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil)
		})
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, store.ErrUnavailable)
	case <-time.After(deadline + 15*time.Second):
		t.Fatal("a batch whose server stopped answering was never answered")
	}
	require.Less(t, time.Since(start), deadline+10*time.Second)
	closed := make(chan struct{})
	go func() { _ = ps.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked")
	}
}
