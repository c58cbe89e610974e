package httpapi

import (
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// A refusal sent before a request was read (a header over the read buffer:
// 431; a declared body over the limit: 413; a parse error or a read
// timeout; a body without a single framing, framing.go) is followed by a
// close while the client may still be sending. Closing a socket with
// unread input makes the kernel answer with a reset, and a client still
// writing then sees "connection reset by peer" instead of the refusal. So
// such a connection's close first ends our half (the response is flushed
// before fasthttp closes), then reads and discards what the client still
// sends, for a bounded time and volume, as web servers' lingering close
// does.
const (
	lingerFor   = 5 * time.Second
	lingerBytes = 8 << 20
)

// Serve serves app on ln until the app shuts down; a connection refused
// before its request was read closes gracefully (see lingerFor).
//
// Only those connections linger: fasthttp closes them on their own
// goroutine right after the refusal. Every other close is the plain one,
// notably Shutdown's of idle keep-alive connections, made from another
// goroutine while theirs may still read and answer (fasthttp v1.51.0 panics
// if a deadline cannot be set then, so the socket must be closed at once).
func Serve(app *fiber.App, ln net.Listener) error {
	srv := app.Server()
	refuse := srv.ErrorHandler // fasthttp's refusals: Fiber's translation to the error handler
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		lingerAfterClose(ctx)
		refuse(ctx, err)
	}
	return app.Listener(lingeringListener{ln})
}

// lingerAfterClose makes the close of ctx's connection, which a refusal is
// about to end, a lingering one (when served by Serve).
func lingerAfterClose(ctx *fasthttp.RequestCtx) {
	if c, ok := ctx.Conn().(*lingeringConn); ok {
		c.linger.Store(true)
	}
}

type lingeringListener struct{ net.Listener }

func (l lingeringListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		return &lingeringConn{TCPConn: tc}, nil
	}
	return c, err
}

// lingeringConn is a TCP connection whose Close lingers once a refusal was
// sent on it. Then the server owns nothing of it after Close: the draining
// goroutine alone reads it, then closes it.
type lingeringConn struct {
	*net.TCPConn
	linger atomic.Bool // a refusal was sent: set on the connection's goroutine, read by any Close
	closed atomic.Bool
}

func (c *lingeringConn) Close() error {
	if !c.linger.Load() {
		return c.TCPConn.Close()
	}
	if c.closed.Swap(true) {
		return net.ErrClosed
	}
	if err := c.CloseWrite(); err != nil { // the peer is gone already
		return c.TCPConn.Close()
	}
	go c.drain()
	return nil
}

func (c *lingeringConn) drain() {
	_ = c.SetReadDeadline(time.Now().Add(lingerFor))
	_, _ = io.CopyN(io.Discard, c.TCPConn, lingerBytes)
	_ = c.TCPConn.Close()
}
