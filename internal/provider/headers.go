package provider

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// ErrInvalidHeader is wrapped by CheckHeaders' errors: a header name or
// value that HTTP cannot carry.
var ErrInvalidHeader = errors.New("invalid header")

// RequestError says that a request cannot be sent as it stands, because of
// its own content: a header name or value HTTP does not allow (a CR or LF
// in a token, an API key or a static header), an unusable auth
// configuration (it then wraps ErrInvalidAuth), a malformed URL or method.
// Nothing was sent, and the same request fails the same way every time: it
// is not worth retrying and says nothing of the provider's health.
type RequestError struct{ Err error }

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// CheckHeaders refuses headers that cannot be sent: a name that is not an
// HTTP field name (a space, a colon, a CR or LF…), a value holding a CR,
// LF or another control character other than tab, and the
// connection-level headers HTTP/2 refuses (Connection other than close or
// keep-alive, Upgrade, Transfer-Encoding other than chunked), which would
// fail only with providers that speak HTTP/2. The error wraps
// ErrInvalidHeader and names the header, never its value. Net/http
// checks the same when it sends, where the failure could only be taken
// for a passing fault.
//
// It runs before every provider call: the headers are walked as they
// are, and sorted (to name the same header every time) only when one is
// refused.
func CheckHeaders(h http.Header) error {
	for k, vs := range h {
		if checkHeader(k, vs) != nil {
			for _, k := range slices.Sorted(maps.Keys(h)) {
				if err := checkHeader(k, h[k]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func checkHeader(k string, vs []string) error {
	if !httpguts.ValidHeaderFieldName(k) {
		return fmt.Errorf("%w: %q is not a valid header name", ErrInvalidHeader, k)
	}
	for _, v := range vs {
		if !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("%w: the value of %q holds a character a header may not (CR, LF or another control character)", ErrInvalidHeader, k)
		}
	}
	return checkConnHeader(http.CanonicalHeaderKey(k), vs)
}

// checkConnHeader mirrors what net/http's HTTP/2 client refuses.
func checkConnHeader(k string, vs []string) error {
	if len(vs) == 0 {
		return nil
	}
	var ok bool
	switch k {
	case "Upgrade":
		ok = vs[0] == ""
	case "Transfer-Encoding":
		ok = len(vs) == 1 && (vs[0] == "" || vs[0] == "chunked")
	case "Connection":
		ok = len(vs) == 1 && (vs[0] == "" || strings.EqualFold(vs[0], "close") || strings.EqualFold(vs[0], "keep-alive"))
	default:
		return nil
	}
	if !ok {
		return fmt.Errorf("%w: %q is a connection-level header HTTP/2 does not allow (Connection may only be close or keep-alive)", ErrInvalidHeader, k)
	}
	return nil
}

// validHeaderValue reports whether s can be sent as (part of) a header value.
func validHeaderValue(s string) bool { return httpguts.ValidHeaderFieldValue(s) }

// safeHeaders are the built-in safe headers of docs/security.md ("What is
// secret", rule 1), whose values are never secret: the same list as
// internal/secret's (provider is a leaf and imports no flowker package;
// TestSafeHeadersMatchTheSecretRules keeps the two in step).
var safeHeaders = map[string]bool{
	"Accept": true, "Accept-Charset": true, "Accept-Encoding": true, "Accept-Language": true, "Cache-Control": true,
	"Connection": true, "Content-Encoding": true, "Content-Language": true, "Content-Length": true, "Content-Type": true,
	"Date": true, "Host": true, "Prefer": true, "Traceparent": true, "Tracestate": true, "User-Agent": true,
	"X-Correlation-Id": true, "X-Request-Id": true,
}

// keptAcrossOrigins says whether a header may follow a redirect to another
// scheme, host or port: only the built-in safe headers and the engine's
// Idempotency-Key, which keeps a redirected call idempotent and is no
// credential.
func keptAcrossOrigins(name string) bool {
	k := http.CanonicalHeaderKey(name)
	return safeHeaders[k] || k == "Idempotency-Key"
}
