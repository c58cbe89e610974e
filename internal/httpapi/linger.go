package httpapi

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
)

// A refusal sent before a request was read (a header over the read buffer:
// 431; a declared body over the limit: 413) is followed by a close while the
// client may still be sending. Closing a socket with unread input makes the
// kernel answer with a reset, and a client still writing then sees
// "connection reset by peer" instead of the refusal. So a close first ends
// our half (the response is flushed before fasthttp closes), then reads and
// discards what the client still sends, for a bounded time and volume, as
// web servers' lingering close does.
const (
	lingerFor   = 5 * time.Second
	lingerBytes = 8 << 20
)

// Serve serves app on ln until the app shuts down; every connection closes
// gracefully (see lingerFor).
func Serve(app *fiber.App, ln net.Listener) error {
	return app.Listener(lingeringListener{ln})
}

type lingeringListener struct{ net.Listener }

func (l lingeringListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		return &lingeringConn{TCPConn: tc}, nil
	}
	return c, err
}

// lingeringConn is a TCP connection whose Close lingers. Close may come
// from another goroutine while the server's is blocked reading the next
// request (Shutdown closing idle connections): that Read is ended at once,
// and the draining goroutine reads only after it returned. After Close the
// server owns nothing of the connection: the draining goroutine alone reads
// it, then closes it.
type lingeringConn struct {
	*net.TCPConn
	reading sync.Mutex // held by each Read and by the drain
	closed  atomic.Bool
}

func (c *lingeringConn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	c.reading.Lock()
	defer c.reading.Unlock()
	return c.TCPConn.Read(p)
}

func (c *lingeringConn) Close() error {
	if c.closed.Swap(true) {
		return net.ErrClosed
	}
	if err := c.CloseWrite(); err != nil { // the peer is gone already
		return c.TCPConn.Close()
	}
	_ = c.SetReadDeadline(time.Now()) // a Read in progress returns now
	go c.drain()
	return nil
}

func (c *lingeringConn) drain() {
	c.reading.Lock() // once no Read is in progress
	defer c.reading.Unlock()
	_ = c.SetReadDeadline(time.Now().Add(lingerFor))
	_, _ = io.CopyN(io.Discard, c.TCPConn, lingerBytes)
	_ = c.TCPConn.Close()
}
