// Package provider makes the outbound HTTP calls to providers: one attempt
// per Do, authentication with a process-wide token cache, SSRF protection at
// connect time, capped responses and connectivity tests. Retries and circuit
// breaking belong to the caller.
package provider

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

const (
	// DefaultMaxResponseBytes caps a response body when Options leaves it 0.
	DefaultMaxResponseBytes = 1 << 20
	// MaxResponseHeaderBytes bounds the memory one answer's headers may
	// take, as DefaultMaxResponseBytes bounds its body's: far above anything
	// a provider legitimately sends (Go's default is 10 MiB). What a step
	// records of them is cut far lower, in the engine (64 KiB): a limit on
	// the record here would fail calls the provider answered and, over
	// HTTP/2, could not be told from a broken connection.
	MaxResponseHeaderBytes = 1 << 20
	// DefaultTimeout bounds one attempt when Request leaves it 0.
	DefaultTimeout = 30 * time.Second
	// DefaultIdleConnsPerHost is how many connections to one host stay
	// open for reuse when Options leaves it 0 (the engine's
	// ENGINE_PROVIDER_CONCURRENCY default).
	DefaultIdleConnsPerHost = 256
)

// Options configures a Client.
type Options struct {
	AllowPrivate     bool              // SSRF_ALLOW_PRIVATE: allow loopback and private ranges (development/tests)
	MaxResponseBytes int64             // default 1 MiB; bodies beyond are cut and Response.Truncated is set
	Transport        http.RoundTripper // optional replacement, e.g. telemetry wrapping NewTransport(opts) (AllowPrivate and RootCAs reach it only that way); default: the SSRF-safe transport
	RootCAs          *x509.CertPool    // trusted CAs for HTTPS; nil = system pool
	// IdleConnsPerHost is how many connections to one host stay open for
	// reuse once idle. Connections in use are not capped here: the engine
	// bounds calls per provider configuration, and several configurations
	// may share a host (a cap per host would make their calls queue for a
	// connection, their attempt's timeout running). Default
	// DefaultIdleConnsPerHost.
	IdleConnsPerHost int
}

// Client is long-lived and shared by the whole process: it owns the
// connection pool, the OIDC discovery cache and the token cache. Safe for
// concurrent use.
type Client struct {
	http    *http.Client
	maxBody int64
	tokens  *tokenCache
}

// New returns a Client. It never uses http.DefaultTransport.
func New(opts Options) *Client {
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	rt := opts.Transport
	if rt == nil {
		rt = newSafeTransport(opts)
	}
	hc := &http.Client{Transport: rt, CheckRedirect: checkRedirect}
	return &Client{http: hc, maxBody: opts.MaxResponseBytes, tokens: newTokenCache(hc)}
}

// AnswerError is a provider's answer that could not be read as it stands
// (its headers over MaxResponseHeaderBytes): it was sent, and the provider
// answered, so it may have acted on it. Sent again it answers the same:
// not a passing fault. Only an answer net/http names is one: over HTTP/1.1
// always; over HTTP/2 only when the error carries the http2 text, which it
// may not (a PROTOCOL_ERROR or COMPRESSION_ERROR on the connection says
// nothing of why), and such an answer is then a transport error.
type AnswerError struct{ Err error }

func (e *AnswerError) Error() string { return "provider answer unreadable: " + e.Err.Error() }
func (e *AnswerError) Unwrap() error { return e.Err }

// answerOverHeaderCap reports whether err is net/http's for an answer
// whose headers are over MaxResponseHeaderBytes: there is no typed error,
// only its text, for HTTP/1.1 ("server response headers exceeded") and for
// HTTP/2 when it reaches the caller ("response header list larger than
// advertised limit").
func answerOverHeaderCap(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "server response headers exceeded") ||
		strings.Contains(msg, "response header list larger than advertised limit")
}

// Request is one outbound call.
type Request struct {
	Method  string // default GET
	URL     string
	Query   url.Values  // merged into URL's query, replacing same-named keys
	Header  http.Header // keys canonicalised; auth headers override same-named ones
	Body    []byte
	Auth    Auth
	Timeout time.Duration // whole attempt including token fetch; default 30s
}

// Response is what came back. A non-2xx status is not an error.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	Truncated  bool // the body was longer than the cap and was cut
	Duration   time.Duration
	URL        string // final URL (after redirects) without credentials
}

// Do performs a single attempt. Errors: *BlockedError (SSRF policy, also on
// a redirect hop), *AuthError (credentials could not be obtained), a
// *RequestError when the request cannot be sent as it stands (a header
// name or value HTTP does not allow, an error wrapping ErrInvalidAuth, a
// malformed URL or method: nothing was sent), otherwise the transport
// error (a *url.Error naming method and URL). Error strings never contain
// the Auth's secrets.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	return c.do(ctx, r, c.maxBody)
}

func (c *Client) do(ctx context.Context, r Request, maxBody int64) (*Response, error) {
	start := time.Now()
	if err := r.Auth.Validate(); err != nil {
		return nil, &RequestError{Err: err}
	}
	red := newRedactor(r.Auth)
	u, err := targetURL(r.URL, r.Query)
	if err != nil {
		var blocked *BlockedError
		if !errors.As(err, &blocked) {
			err = &RequestError{Err: err}
		}
		return nil, red.wrap(err)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	tok, err := c.tokens.get(ctx, r.Auth)
	if err != nil {
		return nil, red.wrap(err)
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	if r.Auth.Type == AuthAPIKey && !r.Auth.inQuery() {
		ctx = context.WithValue(ctx, sensitiveHeaderKey{}, r.Auth.headerName())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		return nil, red.wrap(&RequestError{Err: fmt.Errorf("building request: %w", err)})
	}
	for k, vs := range r.Header {
		// Canonical keys, so that applyAuth's Set replaces a user's "X-API-Key".
		req.Header[http.CanonicalHeaderKey(k)] = append(req.Header[http.CanonicalHeaderKey(k)], vs...)
	}
	applyAuth(req, r.Auth, tok)
	// What net/http would refuse, refused here as what it is: the request's
	// own fault, not the provider's nor the network's.
	if err := CheckHeaders(req.Header); err != nil {
		return nil, red.wrap(&RequestError{Err: fmt.Errorf("request not sent: %w", err)})
	}

	resp, err := c.http.Do(req)
	if err != nil {
		if answerOverHeaderCap(err) {
			err = &AnswerError{Err: err}
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			// net/http drops the password, not the user name, which may be a
			// token; the query may carry an API key.
			if p, perr := url.Parse(ue.URL); perr == nil && p.User != nil {
				p.User = nil
				ue.URL = p.String()
			}
			ue.URL = red.apply(ue.URL)
		}
		return nil, red.wrap(err)
	}
	defer resp.Body.Close()
	body, truncated, err := readCapped(resp.Body, maxBody)
	if err != nil {
		return nil, red.wrap(fmt.Errorf("reading response from %s: %w", safeURL(resp.Request.URL, r.Auth), err))
	}
	if resp.StatusCode == http.StatusUnauthorized && tok != nil {
		c.tokens.evict(r.Auth, tok.AccessToken) // the next attempt fetches a new token
	}
	return &Response{
		StatusCode: resp.StatusCode,
		Header:     resp.Header,
		Body:       body,
		Truncated:  truncated,
		Duration:   time.Since(start),
		URL:        safeURL(resp.Request.URL, r.Auth),
	}, nil
}

// targetURL parses raw, refuses schemes other than http/https and merges q.
func targetURL(raw string, q url.Values) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, &BlockedError{Host: u.Host, Reason: fmt.Sprintf("scheme %q not allowed", u.Scheme)}
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid url %q: no host", raw)
	}
	if len(q) > 0 {
		merged := u.Query()
		for k, vs := range q {
			merged[k] = append([]string(nil), vs...)
		}
		u.RawQuery = merged.Encode()
	}
	return u, nil
}

// applyAuth runs last so that credentials override user headers.
func applyAuth(req *http.Request, a Auth, tok *cachedToken) {
	switch a.Type {
	case AuthAPIKey:
		v := a.Prefix + a.APIKey
		if a.inQuery() {
			q := req.URL.Query()
			q.Set(a.queryParam(), v)
			req.URL.RawQuery = q.Encode()
			return
		}
		req.Header.Set(a.headerName(), v)
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+a.Token)
	case AuthBasic:
		req.SetBasicAuth(a.Username, a.Password)
	default:
		if tok != nil {
			req.Header.Set("Authorization", tok.header())
		}
	}
}

// safeURL renders u without user info and without a query API key.
func safeURL(u *url.URL, a Auth) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if a.inQuery() {
		q := c.Query()
		if q.Has(a.queryParam()) {
			q.Del(a.queryParam())
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}

// readCapped reads up to limit bytes; reading one more tells a body that is
// exactly limit long from one that was cut.
func readCapped(r io.Reader, limit int64) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return b[:limit], true, err
	}
	return b, false, err
}

// redactor removes an Auth's secrets from error text. It is made for every
// call, and most calls never fail: the secrets' forms (raw, escaped,
// encoded: Auth.secrets) are worked out at the first use only. One
// goroutine uses it.
type redactor struct {
	auth    Auth
	secrets []string
	ready   bool
}

func newRedactor(a Auth) *redactor { return &redactor{auth: a} }

func (r *redactor) forms() []string {
	if !r.ready {
		r.secrets, r.ready = r.auth.secrets(), true
		// Longest first so a secret containing another is replaced whole.
		sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	}
	return r.secrets
}

func (r *redactor) apply(s string) string {
	for _, sec := range r.forms() {
		s = strings.ReplaceAll(s, sec, "[REDACTED]")
	}
	return s
}

// wrap keeps err for errors.Is/As but redacts its text.
func (r *redactor) wrap(err error) error {
	if err == nil || len(r.forms()) == 0 {
		return err
	}
	return &redactedError{msg: r.apply(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
