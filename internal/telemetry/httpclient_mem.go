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
// a bytes.Buffer or a strings.Reader, the provider client's case) is handed
// to net/http's Transport as is. Wrapped to be counted, as sentBody does,
// net/http can no longer tell it is in memory: it flushes the headers and
// then copies the body, two writes and two packets for every provider call,
// a quarter of what telemetry added to an execution (docs/telemetry.md,
// "What telemetry costs"). What the transport read of it is then the
// reader's progress, read where the transport is done with it: in
// httptrace's WroteRequest, which net/http calls on the goroutine that
// wrote the request, once the body is written (or failed) and closed, for
// HTTP/1 and HTTP/2 alike, whenever it began writing the request. The
// metrics still wait for it, as they wait for sentBody's Close.
//
// A round trip that failed before the request's headers were written
// (WroteHeaders, which precedes any read of the body) read nothing of it
// and never will: net/http's HTTP/1 transport returns an error only after
// its writer is done, or before one had the request, and its HTTP/2
// transport reads the body only after the headers. Only for net/http's
// Transport (clientTransport.netHTTP): another RoundTripper may never call
// the hooks.

// memBody is a request body in memory and what the transport read of it.
type memBody struct {
	r       interface{ Len() int } // the reader: Len is what is left unread
	start   int                    // Len when handed over
	writing atomic.Bool            // the request's headers are written: the body is being, or was, read
	read    atomic.Int64
	done    atomic.Bool
}

func (m *memBody) finished() bool   { return m.done.Load() }
func (m *memBody) bytesRead() int64 { return m.read.Load() }

// sendInMemory is r's copy for the transport, carrying ctx, the body as is
// and the hooks that tell when the transport is done with it. A body the
// transport asks for again (GetBody, to retry) is counted as sentBody
// counts: it is rare, and the hooks would not tell the attempts apart.
func (c *clientCall) sendInMemory(r *http.Request, ctx context.Context, mem interface{ Len() int }) *http.Request {
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

// bodyInMemory returns the reader of r's body when it is handed over as
// is: net/http's Transport, a length known, and a body net/http knows is
// in memory (and writes with the headers), io.NopCloser unwrapped as
// net/http does.
func (t *clientTransport) bodyInMemory(r *http.Request) (interface{ Len() int }, bool) {
	if !t.netHTTP || r.ContentLength <= 0 || r.Body == nil {
		return nil, false
	}
	var body io.Reader = r.Body
	switch reflect.TypeOf(body) {
	case nopCloserType, nopCloserWriterToType:
		body = reflect.ValueOf(body).Field(0).Interface().(io.Reader)
	}
	switch b := body.(type) {
	case *bytes.Reader:
		return b, true
	case *bytes.Buffer:
		return b, true
	case *strings.Reader:
		return b, true
	}
	return nil, false
}

var (
	nopCloserType         = reflect.TypeOf(io.NopCloser(nil))
	nopCloserWriterToType = reflect.TypeOf(io.NopCloser(struct {
		io.Reader
		io.WriterTo
	}{}))
)
