package telemetry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// The stub provider of TestClientTelemetryEmitsWhatOtelhttpEmitted: the
// requests and answers a real server cannot easily produce.

// stubRequest is one request to the stub, shaped beyond what
// http.NewRequest makes.
type stubRequest struct {
	name, method, path, read string
	body                     io.Reader
	shape                    func(*http.Request)
}

func stubRequests() []stubRequest {
	as := func(f func(*http.Request)) func(*http.Request) { return f }
	host := func(h string) func(*http.Request) { return func(r *http.Request) { r.URL.Host = h } }
	none := func(*http.Request) {}
	reqs := []stubRequest{
		{"HTTP/2", http.MethodGet, "/h2", "all", nil, none},
		{"status 0", http.MethodGet, "/status/0", "all", nil, none},
		{"status 700", http.MethodGet, "/status/700", "all", nil, none},
		{"status 99", http.MethodGet, "/status/99", "all", nil, none},
		{"status 302", http.MethodGet, "/status/302", "all", nil, none},
		{"status 429", http.MethodGet, "/status/429", "all", nil, none},
		{"status 418", http.MethodGet, "/status/418", "all", nil, none},
		{"nil body", http.MethodGet, "/nil-body", "all", nil, none},
		{"nil body with content", http.MethodGet, "/nil-body-content", "all", nil, none},
		{"nil body with content, HEAD", http.MethodHead, "/nil-body-content", "all", nil, none},
		{"nil response", http.MethodGet, "/nil-response", "all", nil, none},
		{"error and response", http.MethodGet, "/error-and-response", "all", nil, none},
		{"typed error", http.MethodGet, "/typed-error", "all", nil, none},
		{"wrapped error", http.MethodGet, "/wrapped-error", "all", nil, none},
		{"deadline", http.MethodGet, "/deadline", "all", nil, none},
		{"read error", http.MethodGet, "/read-error", "all", nil, none},
		{"protocol switch", http.MethodGet, "/switch", "all", nil, none},
		{"retried body", http.MethodPost, "/retry", "all", strings.NewReader("retried body"), none},
		{"rewind fails", http.MethodPost, "/retry", "all", io.NopCloser(strings.NewReader("abc")), as(func(r *http.Request) {
			r.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("cannot rewind") }
		})},
		{"late close", http.MethodPost, "/late-close", "all", strings.NewReader("late"), none},
		{"body never closed by the stub", http.MethodPut, "/status/200", "all", strings.NewReader("kept"), none},
		{"IPv6 with port", http.MethodGet, "/status/200", "all", nil, host("[::1]:8080")},
		{"IPv6 zone", http.MethodGet, "/status/200", "all", nil, host("[fe80::1%en0]")},
		{"bad IPv6", http.MethodGet, "/status/200", "all", nil, host("[::1")},
		{"port out of range", http.MethodGet, "/status/200", "all", nil, host("stub.example:99999")},
		{"port not a number", http.MethodGet, "/status/200", "all", nil, host("stub.example:abc")},
		{"too many colons", http.MethodGet, "/status/200", "all", nil, host("a:b:c")},
		{"default port", http.MethodGet, "/status/200", "all", nil, host("stub.example:80")},
		{"port 0", http.MethodGet, "/status/200", "all", nil, host("stub.example:0")},
		{"port only, Host header", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) {
			r.URL.Host = ":8080"
			r.Header.Set("Host", "fallback.example:81")
		})},
		{"Host header only", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) {
			r.URL.Host = ""
			r.Header.Set("Host", "header.example")
		})},
		{"https, default port", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) { r.URL.Scheme, r.URL.Host = "https", "stub.example:443" })},
		{"https, port 8443", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) { r.URL.Scheme, r.URL.Host = "https", "stub.example:8443" })},
		{"https, port 80", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) { r.URL.Scheme, r.URL.Host = "https", "stub.example:80" })},
		{"no scheme, TLS", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) { r.URL.Scheme, r.TLS = "", &tlsState })},
		{"no scheme", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) { r.URL.Scheme = "" })},
		{"user info", http.MethodGet, "/status/200?api_key=k", "all", nil, as(func(r *http.Request) { r.URL.User = url.UserPassword("u", "p") })},
		{"no URL", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) {
			r.URL = nil
			r.Header.Set("Host", "nourl.example:8080")
		})},
		{"proto empty", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) { r.Proto = "" })},
		{"proto SPDY", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) { r.Proto = "SPDY/3" })},
		{"proto unknown", http.MethodGet, "/status/200", "all", nil, as(func(r *http.Request) { r.Proto = "Foo" })},
	}
	for _, m := range []string{"", "get", "Post", "PURGE", http.MethodOptions, http.MethodConnect, http.MethodTrace, http.MethodPatch, http.MethodDelete} {
		reqs = append(reqs, stubRequest{"method " + m, http.MethodGet, "/status/204", "all", nil, as(func(r *http.Request) { r.Method = m })})
	}
	return reqs
}

var tlsState tls.ConnectionState

// stubProvider answers by path, from the request it was given.
type stubProvider struct {
	mu   sync.Mutex
	seen []string
	late io.Closer
}

type typedError struct{}

func (typedError) Error() string     { return "typed failure" }
func (typedError) ErrorType() string { return "provider.typed" }

type failingReader struct{ sent bool }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.sent {
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset")}
	}
	f.sent = true
	return copy(p, "par"), nil
}

type switchedConn struct{ io.Reader }

func (switchedConn) Write([]byte) (int, error) { return 0, errors.New("write on a closed stream") }
func (switchedConn) Close() error              { return nil }

func (s *stubProvider) RoundTrip(r *http.Request) (*http.Response, error) {
	var got []byte
	if r.Body != nil && r.URL.Path != "/late-close" && r.URL.Path != "/retry" && r.Method != http.MethodPut {
		got, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
	}
	s.mu.Lock()
	s.seen = append(s.seen, fmt.Sprintf("stub: %s %v traceparent=%q body=%q", r.Method, r.URL, r.Header.Get("traceparent"), got))
	s.mu.Unlock()
	res := &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: r,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("stubbed"))}
	path := ""
	if r.URL != nil {
		path = r.URL.Path
	}
	switch {
	case strings.HasPrefix(path, "/status/"):
		_, _ = fmt.Sscanf(path, "/status/%d", &res.StatusCode)
	case path == "/h2":
		res.Proto, res.ProtoMajor, res.ProtoMinor = "HTTP/2.0", 2, 0
	case path == "/nil-body":
		res.StatusCode, res.Body = http.StatusNoContent, nil
	case path == "/nil-body-content":
		res.Body, res.ContentLength = nil, 5
	case path == "/nil-response":
		return nil, nil //nolint:nilnil // what the instrumentation must refuse
	case path == "/error-and-response":
		res.StatusCode, res.Proto = http.StatusBadGateway, "HTTP/2.0"
		return res, errors.New("both")
	case path == "/typed-error":
		return nil, typedError{}
	case path == "/wrapped-error":
		return nil, fmt.Errorf("dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")})
	case path == "/deadline":
		return nil, context.DeadlineExceeded
	case path == "/read-error":
		res.Body = io.NopCloser(&failingReader{})
	case path == "/switch":
		res.StatusCode, res.Body = http.StatusSwitchingProtocols, switchedConn{strings.NewReader("upgraded")}
	case path == "/retry":
		first := make([]byte, 3)
		_, _ = io.ReadFull(r.Body, first)
		_ = r.Body.Close()
		again, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		_, _ = io.ReadAll(again)
		_ = again.Close()
	case path == "/late-close":
		_, _ = io.ReadAll(r.Body)
		s.mu.Lock()
		s.late = r.Body
		s.mu.Unlock()
	}
	return res, nil
}

func (s *stubProvider) closeLate() {
	s.mu.Lock()
	late := s.late
	s.mu.Unlock()
	_ = late.Close()
}

func (s *stubProvider) drain() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.seen
	s.seen = nil
	return out
}
