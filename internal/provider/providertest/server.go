// Package providertest is a scriptable fake provider for tests: programmable
// responses per path, a record of every request, auth expectations and
// built-in OIDC discovery and OAuth2 token endpoints.
package providertest

import (
	"bytes"
	"crypto/subtle"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Built-in endpoint paths.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	TokenPath     = "/oauth/token" //nolint:gosec // G101: a path, not a credential
)

// Response is one scripted answer.
type Response struct {
	Status int         // default 200
	Header http.Header // default Content-Type: application/json when Body is set
	Body   string
	Delay  time.Duration // wait before answering; cut short when the client goes away
}

// Request is a received request as recorded.
type Request struct {
	Method        string
	Path          string
	Query         url.Values
	Header        http.Header
	Body          []byte
	TLSServerName string // SNI sent by the client; empty over plain HTTP
	Proto         string // "HTTP/1.1" or "HTTP/2.0"
}

// Server is a fake provider. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	queues   map[string][]Response
	handlers map[string]func(Request) Response
	holds    map[string]<-chan struct{}
	requests []Request
	check    func(*http.Request) bool // auth expectation; nil accepts everything
	oauth    *oauthState
	conns    atomic.Int64 // connections accepted
}

// New starts a plain HTTP fake on 127.0.0.1, closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// NewTLS starts an HTTPS fake whose certificate is valid for "localhost",
// 127.0.0.1 and ::1; trust it with a pool holding Certificate(). It speaks
// HTTP/1.1 only.
func NewTLS(t testing.TB) *Server {
	t.Helper()
	return newTLS(t, false)
}

// NewHTTP2 is NewTLS offering HTTP/2 in the TLS handshake (ALPN), as most
// providers do.
func NewHTTP2(t testing.TB) *Server {
	t.Helper()
	return newTLS(t, true)
}

func newTLS(t testing.TB, http2 bool) *Server {
	cfg, err := localhostCert()
	if err != nil {
		t.Fatalf("providertest: generating certificate: %v", err)
	}
	s := newServer(t)
	s.TLS, s.EnableHTTP2 = cfg, http2
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func newServer(t testing.TB) *Server {
	s := &Server{
		queues:   map[string][]Response{},
		handlers: map[string]func(Request) Response{},
		holds:    map[string]<-chan struct{}{},
		oauth:    newOAuthState(),
	}
	s.Server = httptest.NewUnstartedServer(s)
	// Server errors (e.g. TLS handshakes a test makes fail on purpose) go to
	// the test log, not stderr. Close waits for connections, so no log line
	// can arrive after the test ends.
	s.Config.ErrorLog = log.New(testLog{t}, "providertest: ", 0)
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	return s
}

// Connections counts the connections the server accepted so far.
func (s *Server) Connections() int { return int(s.conns.Load()) }

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// LocalhostURL is URL with the host "localhost" instead of 127.0.0.1, to
// reach the server by name (e.g. to check TLS verification by host name).
func (s *Server) LocalhostURL() string {
	return strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
}

// Enqueue adds one-shot responses for path, served in order before any
// handler; a scripted path overrides a built-in endpoint.
func (s *Server) Enqueue(path string, rs ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queues[path] = append(s.queues[path], rs...)
}

// Respond answers every request to path with r (after the queue is empty).
func (s *Server) Respond(path string, r Response) {
	s.HandleFunc(path, func(Request) Response { return r })
}

// HandleFunc answers requests to path with fn (after the queue is empty).
func (s *Server) HandleFunc(path string, fn func(Request) Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[path] = fn
}

// Hold makes requests to path (built-in ones included) wait, after being
// recorded, until release is closed or the client goes away; then they are
// answered as usual. Close release before the server closes (register its
// t.Cleanup after New) or Close waits for the held requests.
func (s *Server) Hold(path string, release <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holds[path] = release
}

// Requests returns a copy of every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestsTo returns the recorded requests whose path is path.
func (s *Server) RequestsTo(path string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// RequireAPIKey rejects (401) requests whose header is not exactly value.
func (s *Server) RequireAPIKey(header, value string) {
	s.require(func(r *http.Request) bool { return equal(r.Header.Get(header), value) })
}

// RequireAPIKeyQuery rejects requests whose query parameter is not exactly value.
func (s *Server) RequireAPIKeyQuery(param, value string) {
	s.require(func(r *http.Request) bool { return equal(r.URL.Query().Get(param), value) })
}

// RequireBearer rejects requests without "Authorization: Bearer <token>".
func (s *Server) RequireBearer(token string) {
	s.require(func(r *http.Request) bool { return equal(r.Header.Get("Authorization"), "Bearer "+token) })
}

// RequireIssuedToken rejects requests without a bearer token issued by the
// built-in token endpoint and not yet expired.
func (s *Server) RequireIssuedToken() {
	s.require(func(r *http.Request) bool {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && s.oauth.valid(tok)
	})
}

// RequireBasic rejects requests without these Basic credentials.
func (s *Server) RequireBasic(user, pass string) {
	s.require(func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && equal(u, user) && equal(p, pass)
	})
}

func (s *Server) require(check func(*http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.check = check
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// ServeHTTP records the request, waits if it is held, rejects it with 401 if it fails the auth
// expectation (built-in paths are exempt), then answers from the queue, the
// handler, a built-in endpoint or the default 200 {"status":"ok"}, in that
// order.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body,
		Proto: r.Proto}
	if r.TLS != nil {
		rec.TLSServerName = r.TLS.ServerName
	}

	s.mu.Lock()
	s.requests = append(s.requests, rec)
	check, hold := s.check, s.holds[r.URL.Path]
	s.mu.Unlock()

	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}

	builtin := r.URL.Path == DiscoveryPath || r.URL.Path == TokenPath
	if !builtin && check != nil && !check(r) {
		write(w, r, Response{Status: http.StatusUnauthorized, Body: `{"error":"unauthorized"}`})
		return
	}

	s.mu.Lock()
	var scripted *Response
	if q := s.queues[r.URL.Path]; len(q) > 0 {
		scripted, s.queues[r.URL.Path] = &q[0], q[1:]
	}
	handler := s.handlers[r.URL.Path]
	s.mu.Unlock()

	switch {
	case scripted != nil:
		write(w, r, *scripted)
	case handler != nil:
		write(w, r, handler(rec))
	case r.URL.Path == DiscoveryPath:
		s.serveDiscovery(w, r)
	case r.URL.Path == TokenPath:
		s.serveToken(w, r)
	default:
		write(w, r, Response{Body: `{"status":"ok"}`})
	}
}

func write(w http.ResponseWriter, r *http.Request, resp Response) {
	if resp.Delay > 0 {
		timer := time.NewTimer(resp.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	if resp.Body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	w.WriteHeader(resp.Status)
	_, _ = io.WriteString(w, resp.Body)
}
