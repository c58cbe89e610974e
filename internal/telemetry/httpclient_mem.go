package telemetry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"reflect"
	"strings"
	"sync/atomic"
)

// A request body in memory (what http.NewRequest makes of a bytes.Reader,
// a bytes.Buffer or a strings.Reader, the provider client's case) sent over
// HTTP/1 in the clear is handed to net/http's Transport as is. Wrapped to
// be counted, as sentBody does, net/http can no longer tell it is in
// memory: it flushes the headers and then copies the body, two writes and
// two packets for every provider call, a quarter of what telemetry added to
// an execution (docs/telemetry.md, "What telemetry costs").
//
// What the transport read of it is then the reader's progress, read where
// the transport is done with it: in httptrace's WroteRequest, which
// net/http's HTTP/1 transport calls on its writing goroutine once it wrote
// (or failed to write) the request and closed the body, whenever it began
// writing it. The metrics still wait for it, as they wait for sentBody's
// Close. A round trip that failed before the headers were written
// (WroteHeaders, which precedes any read of the body) read nothing of it
// and never will: the HTTP/1 transport returns an error only once its
// writer is done (mapRoundTripError waits for it; the response header
// timer starts after the write), or before a writer had the request.
//
// Not over HTTP/2, which frames headers and body apart anyway: its
// transport can write the headers and then fail, or be cancelled while the
// body's write is stuck, without calling WroteRequest, and a round trip
// that failed may still read the body afterwards (found by review: the
// metrics were lost, TestClientRecordsFailedHTTP2Calls). A request that
// may go over HTTP/2 (https, where the provider chooses in the handshake,
// or a transport allowing HTTP/2 in the clear) keeps the wrapper.

// inMemory is a body net/http knows is in memory: Len is what is left unread.
type inMemory interface{ Len() int }

// memBody is a request body in memory and what the transport read of it.
type memBody struct {
	r       inMemory
	start   int         // Len when handed over
	writing atomic.Bool // the request's headers are written: the body is being, or was, read
	read    atomic.Int64
	done    atomic.Bool
}

func (m *memBody) finished() bool   { return m.done.Load() }
func (m *memBody) bytesRead() int64 { return m.read.Load() }

// sendInMemory is r's copy for the transport, carrying ctx, the body as is
// and the hooks that tell when the transport is done with it. A body the
// transport asks for again (GetBody, to retry) is counted as sentBody
// counts: it is rare, and the hooks would not tell the attempts apart.
func (c *clientCall) sendInMemory(ctx context.Context, r *http.Request, mem inMemory) *http.Request {
	c.mem.r, c.mem.start = mem, mem.Len()
	c.body = &c.mem
	c.trace.WroteHeaders, c.trace.WroteRequest = c.wroteHeaders, c.wroteRequest
	out := r.WithContext(httptrace.WithClientTrace(ctx, &c.trace))
	if out.GetBody != nil {
		c.getBody = out.GetBody
		out.GetBody = c.rewind
	}
	return out
}

func (c *clientCall) wroteHeaders() {
	if c.handedOver() {
		c.mem.writing.Store(true)
	}
}

// wroteRequest runs on the goroutine that wrote the request, after the
// body's last read: reading the reader's progress here races with nothing.
func (c *clientCall) wroteRequest(httptrace.WroteRequestInfo) {
	if !c.handedOver() {
		return // a retry's body, counted as read (rewind)
	}
	c.mem.read.Store(int64(c.mem.start - c.mem.r.Len()))
	c.mem.done.Store(true)
	c.maybeRecord()
}

// handedOver: the body in memory is still the one the transport has.
func (c *clientCall) handedOver() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.body == &c.mem
}

// plainHTTP1 reports whether base is net/http's Transport and sends
// http:// requests over HTTP/1 only: no HTTP/2 in the clear, and no proxy
// (an https:// proxy may speak HTTP/2).
func plainHTTP1(base http.RoundTripper) bool {
	t, ok := base.(*http.Transport)
	return ok && t.Proxy == nil && (t.Protocols == nil || !t.Protocols.UnencryptedHTTP2())
}

// bodyInMemory returns the reader of r's body when it is handed over as
// is: HTTP/1 in the clear on net/http's Transport, a body net/http knows
// is in memory (and writes with the headers; io.NopCloser unwrapped as
// net/http does), holding exactly the length announced.
func (t *clientTransport) bodyInMemory(r *http.Request) (inMemory, bool) {
	if !t.plainH1 || r.URL == nil || r.URL.Scheme != "http" || r.ContentLength <= 0 || r.Body == nil {
		return nil, false
	}
	var body io.Reader = r.Body
	switch reflect.TypeOf(body) {
	case nopCloserType, nopCloserWriterToType:
		body = reflect.ValueOf(body).Field(0).Interface().(io.Reader)
	}
	var mem inMemory
	switch b := body.(type) {
	case *bytes.Reader:
		mem = b
	case *bytes.Buffer:
		mem = b
	case *strings.Reader:
		mem = b
	default:
		return nil, false
	}
	// Read already, or not the length announced (a request sent twice): net/http
	// fails it before sending anything, where the wrapper's flushed headers made
	// it a broken connection, and a kept-alive connection would retry it (found
	// by review). Such a body keeps the wrapper.
	return mem, int64(mem.Len()) == r.ContentLength
}

var (
	nopCloserType         = reflect.TypeOf(io.NopCloser(nil))
	nopCloserWriterToType = reflect.TypeOf(io.NopCloser(struct {
		io.Reader
		io.WriterTo
	}{}))
)
