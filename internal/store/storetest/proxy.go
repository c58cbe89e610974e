package storetest

import (
	"context"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a database server, for tests of what
// lies between: Cut ends every connection and refuses new ones (the
// database gone away); Freeze forwards nothing more, either way, but keeps
// every connection open (a black-holed network, a paused server host).
type Proxy struct {
	Addr   string // where to connect instead of the server
	ln     net.Listener
	target string
	frozen chan struct{}
	freeze sync.Once

	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

// StartProxy listens on a loopback port and forwards to target until the
// test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln, target: target, frozen: make(chan struct{})}
	go p.serve()
	t.Cleanup(p.Cut)
	return p
}

func (p *Proxy) serve() {
	var d net.Dialer
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := d.DialContext(context.Background(), "tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut {
			_, _ = c.Close(), up.Close()
			p.mu.Unlock()
			return
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst until either ends (then both are closed) or the
// proxy is frozen (then what was read is dropped, and both stay open).
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			_, _ = dst.Close(), src.Close()
			return
		}
	}
}

// Freeze stops forwarding; connections stay open until Cut.
func (p *Proxy) Freeze() { p.freeze.Do(func() { close(p.frozen) }) }

// Cut closes every connection and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	_ = p.ln.Close()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}
