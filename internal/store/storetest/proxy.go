package storetest

import (
	"context"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a database server, for tests of what
// lies between: Cut ends every connection and refuses new ones (the
// database gone away); Drop ends every connection open now; Freeze
// forwards nothing more, either way, but keeps every connection open (a
// black-holed network, a paused server host); HoldReplies delays what the
// server sends until ReleaseReplies (a slow answer), and counts what it
// holds and the clients that hung up.
type Proxy struct {
	Addr   string // where to connect instead of the server
	ln     net.Listener
	target string
	frozen chan struct{}
	freeze sync.Once

	mu      sync.Mutex
	conns   []net.Conn
	cut     bool
	hold    chan struct{} // non-nil while replies are held; closed on release
	held    int           // replies waiting on hold
	hungUp  int           // client connections the client ended
	changed chan struct{} // closed and replaced whenever held or hungUp changes
}

// StartProxy listens on a loopback port and forwards to target until the
// test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln, target: target, frozen: make(chan struct{}), changed: make(chan struct{})}
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
		go p.pipe(up, c, false)
		go p.pipe(c, up, true)
	}
}

// pipe copies src to dst until either ends (then both are closed) or the
// proxy is frozen (then what was read is dropped, and both stay open).
// reply: src is the server; what it sends waits while replies are held.
func (p *Proxy) pipe(dst, src net.Conn, reply bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			return
		default:
		}
		if n > 0 && reply {
			p.waitRelease()
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if !reply {
				p.note(func() { p.hungUp++ })
			}
			_, _ = dst.Close(), src.Close()
			return
		}
	}
}

// note changes a counter under the lock and wakes WaitFor.
func (p *Proxy) note(change func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	change()
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proxy) waitRelease() {
	p.mu.Lock()
	hold := p.hold
	p.mu.Unlock()
	if hold == nil {
		return
	}
	p.note(func() { p.held++ })
	<-hold
	p.note(func() { p.held-- })
}

// HoldReplies makes what the server sends wait until ReleaseReplies.
func (p *Proxy) HoldReplies() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hold == nil {
		p.hold = make(chan struct{})
	}
}

// ReleaseReplies forwards what was held, and what follows, at once.
func (p *Proxy) ReleaseReplies() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked()
}

// releaseLocked ends a hold; p.mu is held.
func (p *Proxy) releaseLocked() {
	if p.hold != nil {
		close(p.hold)
		p.hold = nil
	}
}

// WaitFor waits until cond(held replies, client connections hung up) holds
// or ctx ends, and reports whether it held.
func (p *Proxy) WaitFor(ctx context.Context, cond func(held, hungUp int) bool) bool {
	for {
		p.mu.Lock()
		ok, changed := cond(p.held, p.hungUp), p.changed
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// Freeze stops forwarding; connections stay open until Cut.
func (p *Proxy) Freeze() { p.freeze.Do(func() { close(p.frozen) }) }

// Drop closes every connection open now and goes on serving new ones: a
// network blip, or a server that restarted.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Cut closes every connection and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.releaseLocked()
	_ = p.ln.Close()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}
