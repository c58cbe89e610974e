package telemetry

// The semantic conventions' attributes of a provider call, as otelhttp
// v0.72.0 computed them (httpclient.go).

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// standardMethods are the methods the conventions name; any other is _OTHER.
var standardMethods = map[string]attribute.KeyValue{
	http.MethodConnect: semconv.HTTPRequestMethodConnect, http.MethodDelete: semconv.HTTPRequestMethodDelete,
	http.MethodGet: semconv.HTTPRequestMethodGet, http.MethodHead: semconv.HTTPRequestMethodHead,
	http.MethodOptions: semconv.HTTPRequestMethodOptions, http.MethodPatch: semconv.HTTPRequestMethodPatch,
	http.MethodPost: semconv.HTTPRequestMethodPost, http.MethodPut: semconv.HTTPRequestMethodPut,
	http.MethodTrace: semconv.HTTPRequestMethodTrace,
}

// appendRequestAttrs appends the span attributes known before the call:
// the method (with the original spelling when it is not the standard one),
// the URL without user information, the server's address and port (when
// not the scheme's default), and the protocol asked for.
func appendRequestAttrs(attrs []attribute.KeyValue, r *http.Request, host string, port int) []attribute.KeyValue {
	switch std, ok := standardMethods[r.Method]; {
	case ok:
		attrs = append(attrs, std)
	case r.Method == "":
		attrs = append(attrs, semconv.HTTPRequestMethodOther)
	default:
		if std, ok = standardMethods[strings.ToUpper(r.Method)]; !ok {
			std = semconv.HTTPRequestMethodOther
		}
		attrs = append(attrs, std, semconv.HTTPRequestMethodOriginal(r.Method))
	}
	attrs = append(attrs, semconv.URLFull(urlWithoutUser(r.URL)), semconv.ServerAddress(host))
	if port > 0 {
		attrs = append(attrs, semconv.ServerPort(port))
	}
	return appendProtocolAttrs(attrs, r.Proto)
}

// appendResponseAttrs appends the status, its error type (4xx, 5xx and
// invalid codes) and the protocol the response came with.
func appendResponseAttrs(attrs []attribute.KeyValue, res *http.Response) []attribute.KeyValue {
	if res.StatusCode > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(res.StatusCode))
	}
	if res.StatusCode >= 400 || res.StatusCode < 100 {
		attrs = append(attrs, semconv.ErrorTypeKey.String(statusText(res.StatusCode)))
	}
	return appendProtocolAttrs(attrs, res.Proto)
}

// appendProtocolAttrs: the name only when it is not "http" (implied by the
// method), the version when known.
func appendProtocolAttrs(attrs []attribute.KeyValue, proto string) []attribute.KeyValue {
	name, version := protocolOf(proto)
	if name != "" && name != "http" {
		attrs = append(attrs, semconv.NetworkProtocolName(name))
	}
	if version != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(version))
	}
	return attrs
}

// statusText is the decimal status, without an allocation for the usual ones.
func statusText(code int) string {
	switch code {
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 409:
		return "409"
	case 422:
		return "422"
	case 429:
		return "429"
	case 500:
		return "500"
	case 502:
		return "502"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	return strconv.Itoa(code)
}

// clientStatus: every status from 400 up is an error for a client; codes
// outside 100–599 are invalid.
func clientStatus(code int) (codes.Code, string) {
	switch {
	case code < 100 || code >= 600:
		return codes.Error, fmt.Sprintf("Invalid HTTP status code %d", code)
	case code >= 400:
		return codes.Error, ""
	}
	return codes.Unset, ""
}

func urlWithoutUser(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = nil
	return c.String()
}

// protocolOf splits "HTTP/1.1" into "http" and "1.1".
func protocolOf(proto string) (name, version string) {
	name, version, _ = strings.Cut(proto, "/")
	switch name {
	case "HTTP":
		return "http", version
	case "QUIC":
		return "quic", version
	case "SPDY":
		return "spdy", version
	}
	return strings.ToLower(name), version
}

// requestHostPort is the server's address and port from the URL, else from
// a Host header; the port only when it is not the scheme's default (-1).
func requestHostPort(r *http.Request) (string, int) {
	var host string
	port := -1
	if r.URL != nil {
		host, port = splitHostPort(r.URL.Host)
	}
	if host == "" && port <= 0 {
		host, port = splitHostPort(r.Header.Get("Host"))
	}
	defaultPort := 80
	if r.URL != nil && r.URL.Scheme == "https" {
		defaultPort = 443
	}
	if port <= 0 || port == defaultPort {
		port = -1
	}
	return host, port
}

// splitHostPort takes "host", "host:port", "[ipv6]", "[ipv6]:port" or
// ":port" apart; an unparsable part is "" or -1.
func splitHostPort(hostport string) (string, int) {
	if !strings.HasPrefix(hostport, "[") {
		if !strings.Contains(hostport, ":") {
			return hostport, -1
		}
	} else if end := strings.LastIndexByte(hostport, ']'); end < 0 {
		return "", -1
	} else if !strings.Contains(hostport[end:], ":") {
		return hostport[1:end], -1
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", -1
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return host, -1
	}
	return host, int(p)
}

// requestScheme is the URL's scheme, else that of the connection.
func requestScheme(r *http.Request) string {
	switch {
	case r.URL != nil && r.URL.Scheme != "":
		return r.URL.Scheme
	case r.TLS != nil:
		return "https"
	}
	return "http"
}

// metricMethod is the method in capitals if standard, else _OTHER.
func metricMethod(m string) string {
	if std, ok := standardMethods[m]; ok {
		return std.Value.AsString()
	}
	if std, ok := standardMethods[strings.ToUpper(m)]; ok {
		return std.Value.AsString()
	}
	return "_OTHER"
}

// clientLabels are what a round trip's metric attributes are made of.
type clientLabels struct {
	method, host, scheme string
	port                 int    // -1: the scheme's default or unknown
	proto                string // the response's protocol, else the request's
	status               int    // 0: no response
	errType              reflect.Type
}

// measurement returns the cached attribute set of l. A new key is stored
// with copies of its strings, not views of a request's URL (whose query
// may carry a secret).
func (t *clientTransport) measurement(l clientLabels) measurementOpts {
	t.sets.mu.RLock()
	opts, ok := t.sets.m[l]
	t.sets.mu.RUnlock()
	if ok {
		return opts
	}
	l.host, l.scheme, l.proto = strings.Clone(l.host), strings.Clone(l.scheme), strings.Clone(l.proto)
	return t.sets.get(l, newClientMeasurement)
}

func newClientMeasurement(l clientLabels) measurementOpts {
	attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(l.method), semconv.ServerAddress(l.host), semconv.URLScheme(l.scheme)}
	if l.port > 0 {
		attrs = append(attrs, semconv.ServerPort(l.port))
	}
	name, version := protocolOf(l.proto)
	if name != "" { // unlike the span, the metrics name "http" too
		attrs = append(attrs, semconv.NetworkProtocolName(name))
	}
	if version != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(version))
	}
	if l.status > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(l.status))
	}
	if l.status == 0 && l.errType != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorTypeName(l.errType)))
	}
	return newMeasurementOpts(attrs...)
}

// errorTypeName names an error's type for the metrics: the package path and
// name of the (pointed-to) type, else its Go syntax. (The span's error.type
// is the conventions' semconv.ErrorType, which may differ.)
func errorTypeName(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() == "" || t.Name() == "" {
		if s := t.String(); s != "" {
			return s
		}
		return "_OTHER"
	}
	return t.PkgPath() + "." + t.Name()
}
