package secret

import (
	"bytes"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// The rules that decide what is secret without a schema, shared by sealing
// (where no schema describes a field), step records and logs. See
// docs/security.md, "What is secret".

// secretSubstrings make a field secret when its normalised name contains
// one of them: client_secret, X-Auth-Token, refreshToken, dbPassword, …
var secretSubstrings = [][]byte{
	[]byte("password"), []byte("passwd"), []byte("passphrase"), []byte("secret"), []byte("token"),
	[]byte("apikey"), []byte("accesskey"), []byte("privatekey"), []byte("authorization"), []byte("cookie"),
	[]byte("credential"),
}

// secretExact make a field secret when its normalised name is one of them:
// too short to be matched inside other names (pin, cvv and cvc are card
// secrets). Names ending in "key" are secret too: api_key, the reference's
// "key", signing_key, X-Tenant-Key.
var secretExact = map[string]bool{"pin": true, "pwd": true, "cvv": true, "cvc": true}

// separators are dropped when comparing names (one replacer, built once).
var separators = strings.NewReplacer("-", "", "_", "", ".", "", " ", "")

// normalise lower-cases name and drops '-', '_', '.' and spaces, into buf
// when it is ASCII (names are checked on every walk: no allocation).
func normalise(name string, buf []byte) []byte {
	b := buf[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 0x80:
			return []byte(separators.Replace(strings.ToLower(name)))
		case c == '-' || c == '_' || c == '.' || c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// IsSecretName reports whether a field (or header, or query parameter)
// named name holds a secret by its name: compared case-insensitively,
// without '-', '_', '.' and spaces, as a substring for the long names,
// exactly for the short ones, and as a suffix for "key".
func IsSecretName(name string) bool {
	var buf [64]byte
	n := normalise(name, buf[:])
	if secretExact[string(n)] || bytes.HasSuffix(n, []byte("key")) {
		return true
	}
	for _, s := range secretSubstrings {
		if bytes.Contains(n, s) {
			return true
		}
	}
	return false
}

// safeHeaders are headers whose values are never secret: content
// negotiation, tracing and request ids. Every other header value is.
var safeHeaders = map[string]bool{}

func init() {
	for _, h := range []string{"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Cache-Control",
		"Connection", "Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "Date", "Host",
		"Prefer", "Traceparent", "Tracestate", "User-Agent", "X-Correlation-Id", "X-Request-Id"} {
		safeHeaders[strings.ToLower(h)] = true
	}
}

// SafeHeader reports whether a header's value is not secret by the
// built-in list (Content-Type, Accept, User-Agent, X-Request-Id, …).
func SafeHeader(name string) bool { return safeHeaders[strings.ToLower(strings.TrimSpace(name))] }

// SafeHeadersKey is the document key that declares more safe headers: a
// list of header names next to "headers" at the top of a provider
// configuration or a node's data. A name that IsSecretName is never safe.
const SafeHeadersKey = "safe_headers"

// isHeaders reports whether a field holds a header map.
func isHeaders(key string) bool { return strings.EqualFold(key, "headers") }

// declaredSafe reads a document's safe_headers (lower-cased), leaving out
// names that look like credentials.
func declaredSafe(doc map[string]any) map[string]bool {
	list, _ := doc[SafeHeadersKey].([]any)
	if len(list) == 0 {
		return nil
	}
	out := make(map[string]bool, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok && !IsSecretName(s) {
			out[strings.ToLower(strings.TrimSpace(s))] = true
		}
	}
	return out
}

// userinfoAt returns the bounds of the user information of an absolute URL
// (scheme://userinfo@host…) in s: start, end (the '@'), and whether there
// is one.
func userinfoAt(s string) (int, int, bool) {
	i := strings.Index(s, "://")
	if i <= 0 || !validScheme(s[:i]) {
		return 0, 0, false
	}
	start := i + 3
	rest := s[start:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return 0, 0, false
	}
	return start, start + at, true
}

func validScheme(s string) bool {
	for i, c := range s {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		other := c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
		if !letter && (i == 0 || !other) {
			return false
		}
	}
	return s != ""
}

// HasUserinfo reports whether s is a URL carrying credentials
// (scheme://user:password@host, or a token as the user).
func HasUserinfo(s string) bool {
	_, _, ok := userinfoAt(s)
	return ok
}

// Redacted replaces a secret in step records, logs and traces.
const Redacted = "REDACTED"

var (
	// A query parameter's value: provider API keys may travel in the query
	// (auth location "query", any parameter name), and webhook callers
	// may put tokens there, so every value is hidden, names are kept.
	queryValue = regexp.MustCompile(`([?&][^=&#\s"'?]+=)[^&#\s"']*`)
	// Credentials after an Authorization scheme.
	authScheme = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[^\s"',;]+`)
	// user:password@ in a URL, up to the last @ before the path, as a URL
	// parser reads it (a password may hold an @, and an apostrophe: a
	// sub-delim; a double quote it may not, so quoted text ends it).
	userInfo = regexp.MustCompile(`(://)[^/?#\s"]*@`)
	// The token of a callback URL (/v1/callbacks/<token>): it is the
	// credential a provider calls back with (docs/security.md).
	callbackToken = regexp.MustCompile(`(?i)(/v1/+callbacks/+)[^/?#\s"']+`)
)

// RedactText hides query values, bearer/basic credentials, URL user info
// and callback tokens in free text (an error message, a URL or path, a
// logged value). It returns s itself when there is nothing to hide.
func RedactText(s string) string {
	callback := containsFold(s, "callbacks/")
	if !strings.ContainsAny(s, "?&@") && !containsFold(s, "bearer") && !containsFold(s, "basic") && !callback {
		return s
	}
	if callback {
		s = callbackToken.ReplaceAllString(s, "${1}"+Redacted)
	}
	s = queryValue.ReplaceAllString(s, "${1}"+Redacted)
	s = authScheme.ReplaceAllString(s, "${1} "+Redacted)
	return userInfo.ReplaceAllString(s, "${1}"+Redacted+"@")
}

// HideCallbackTokens returns v, a JSON-shaped value, with the token of
// every callback URL in its strings replaced by REDACTED and nothing else
// changed: what the API shows of data that may echo a callback URL (a
// provider's answer, a review's context). It returns v itself when there
// is no token, and copies only what it changes.
func HideCallbackTokens(v any) any {
	out, _ := hideCallbackTokens(v)
	return out
}

func hideCallbackTokens(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		if containsFold(x, "callbacks/") {
			if r := callbackToken.ReplaceAllString(x, "${1}"+Redacted); r != x {
				return r, true
			}
		}
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			if h, changed := hideCallbackTokens(e); changed {
				if out == nil {
					out = maps.Clone(x)
				}
				out[k] = h
			}
		}
		if out != nil {
			return out, true
		}
	case []any:
		var out []any
		for i, e := range x {
			if h, changed := hideCallbackTokens(e); changed {
				if out == nil {
					out = slices.Clone(x)
				}
				out[i] = h
			}
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}

// containsFold reports whether s holds lower (lower-case ASCII) in any
// case. Its first letter folds only to its upper case (it is not k or s,
// which Unicode folds with K and ſ too), so only that byte, in either
// case, can start a match: every other byte is passed over without
// EqualFold. This runs on every string a step sends, logs or traces.
func containsFold(s, lower string) bool {
	first := lower[0]
	for i := 0; i+len(lower) <= len(s); i++ {
		if s[i]|0x20 == first && strings.EqualFold(s[i:i+len(lower)], lower) {
			return true
		}
	}
	return false
}

// Redact returns a copy of a JSON-shaped value (what a step sent, a logged
// object) with the rules applied everywhere, no schema: the value of every
// secret-named field, every header value not safe by the built-in list,
// and, in every other string, what RedactText hides. url.Values and
// http.Header are accepted too (as their JSON form).
func Redact(v any) any {
	w := walker{leaf: redactLeaf, noPath: true}
	out, _, _ := w.value("", v, nil, nil, false, false)
	return out // the leaf never fails
}

func redactLeaf(_ string, v, _ any, r reason) (any, bool, error) {
	if r == byField {
		return Redacted, true, nil
	}
	s, _ := v.(string) // a URL with user info (byURL) loses just that
	if out := RedactText(s); out != s {
		return out, true, nil
	}
	return v, false, nil
}

// jsonShape turns the string-list maps of net/url and net/http into the
// JSON-shaped values the walker reads; ok is false for any other value.
func jsonShape(v any) (map[string]any, bool) {
	var m map[string][]string
	switch t := v.(type) {
	case map[string][]string:
		m = t
	case http.Header:
		m = t
	case url.Values:
		m = t
	default:
		return nil, false
	}
	out := make(map[string]any, len(m))
	for k, list := range m {
		l := make([]any, len(list))
		for i, s := range list {
			l[i] = s
		}
		out[k] = l
	}
	return out, true
}
