package provider

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// BlockedError is returned when the SSRF policy refuses a destination: a
// resolved IP in a restricted range, a cloud metadata host name, or a
// scheme other than http/https (also on a redirect hop).
type BlockedError struct {
	Host   string // host name as requested
	IP     string // the resolved address that was refused; empty when refused by name or scheme
	Reason string
}

func (e *BlockedError) Error() string {
	switch {
	case e.Host == "":
		return "blocked by SSRF policy: " + e.Reason
	case e.IP == "":
		return fmt.Sprintf("blocked by SSRF policy: %s (%s)", e.Host, e.Reason)
	}
	return fmt.Sprintf("blocked by SSRF policy: %s resolves to %s (%s)", e.Host, e.IP, e.Reason)
}

// blockedHosts are refused by name before any DNS lookup, whatever
// AllowPrivate says: they only ever lead to instance credentials.
var blockedHosts = map[string]bool{
	"metadata.google.internal": true,
	"metadata.gcp.internal":    true,
	"metadata.azure.internal":  true,
}

// metadataAddrs are cloud metadata services that sit inside ranges
// AllowPrivate would otherwise open (AWS's IPv6 endpoint is in fc00::/7).
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("fd00:ec2::254"),
}

var reservedRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" range"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT range"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments range"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation range"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation range"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation range"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking range"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved range"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation range"},
	{netip.MustParsePrefix("100::/64"), "discard-only range"},
	// IPv4-compatible addresses (::127.0.0.1), deprecated: no route should
	// lead anywhere through them (found by a security hunt).
	{netip.MustParsePrefix("::/96"), "IPv4-compatible range"},
	// Local-use NAT64 (RFC 8215; where its IPv4 address sits is the
	// operator's choice) and Teredo (an obfuscated IPv4 address): no
	// provider is reached through them.
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 range"},
	{netip.MustParsePrefix("2001::/32"), "Teredo range"},
}

// nat64 embeds an IPv4 address in its last 32 bits, 6to4 in bits 16–48; a
// gateway or relay would forward to it, so the embedded address is what
// must be checked (found by defect hunts).
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// blockReason says why ip may not be dialled, or "" if it may.
func blockReason(ip netip.Addr, allowPrivate bool) string {
	if !ip.IsValid() {
		return "invalid address"
	}
	ip = ip.Unmap().WithZone("")
	if nat64.Contains(ip) || sixTo4.Contains(ip) {
		b, via, at := ip.As16(), " via NAT64", 12
		if sixTo4.Contains(ip) {
			via, at = " via 6to4", 2
		}
		if r := blockReason(netip.AddrFrom4([4]byte(b[at:at+4])), allowPrivate); r != "" {
			return r + via
		}
		return ""
	}
	for _, m := range metadataAddrs {
		if ip == m {
			return "cloud metadata address"
		}
	}
	switch {
	case ip.IsUnspecified():
		return "unspecified address"
	case ip.IsLoopback():
		if allowPrivate {
			return ""
		}
		return "loopback address"
	case ip.IsPrivate():
		if allowPrivate {
			return ""
		}
		return "private address"
	case ip.IsLinkLocalUnicast():
		return "link-local address"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast address"
	}
	for _, r := range reservedRanges {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	return ""
}

func hostBlocked(host string) bool {
	return blockedHosts[strings.TrimSuffix(strings.ToLower(host), ".")]
}

// NewTransport returns the SSRF-safe transport New uses by default. A
// telemetry wrapper must wrap this (and be passed as Options.Transport) to
// keep the protection. Every call returns a new connection pool.
func NewTransport(opts Options) http.RoundTripper { return newSafeTransport(opts) }

func newSafeTransport(opts Options) *http.Transport {
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		// Control runs once per resolved address, just before connect, so
		// the address checked is the one used: DNS rebinding cannot slip in
		// between check and use.
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &BlockedError{IP: address, Reason: "unparsable address"}
			}
			if reason := blockReason(ap.Addr(), opts.AllowPrivate); reason != "" {
				return &BlockedError{IP: ap.Addr().String(), Reason: reason}
			}
			return nil
		},
	}
	idle := opts.IdleConnsPerHost
	if idle <= 0 {
		idle = DefaultIdleConnsPerHost
	}
	return &http.Transport{
		// No proxy: through a proxy the checked address would be the proxy's.
		Proxy:       nil,
		DialContext: safeDial(dialer),
		// HTTP/2 where the provider offers it in the TLS handshake (ALPN):
		// many calls share one connection. With a custom DialContext and
		// TLS configuration Go attempts it only when forced; the dial, and
		// so the SSRF check, is the same for both protocols.
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: opts.RootCAs},
		// Connections are reused per host: as many may stay idle as calls
		// may run per provider, so a burst does not close and redial most
		// of them.
		MaxIdleConnsPerHost:    idle,
		MaxIdleConns:           0, // no total: per host and IdleConnTimeout bound them
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}
}

// safeDial refuses blocked host names and names the host in a BlockedError
// raised by the dialer's Control. The dialer resolves the name itself and
// the transport does TLS against the URL's host, so certificates are still
// verified against the name, not the IP.
func safeDial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if hostBlocked(host) {
			return nil, &BlockedError{Host: host, Reason: "cloud metadata host name"}
		}
		conn, err := d.DialContext(ctx, network, addr)
		var blocked *BlockedError
		if errors.As(err, &blocked) {
			return nil, &BlockedError{Host: host, IP: blocked.IP, Reason: blocked.Reason}
		}
		return conn, err
	}
}

// sensitiveHeaderKey carries the API key header name to checkRedirect.
type sensitiveHeaderKey struct{}

const maxRedirects = 10

// checkRedirect caps redirects, refuses scheme changes and, when a
// redirect leads to another origin than the request's (another host or
// port), drops every header but the built-in safe ones: Authorization,
// the API key header and static headers (secret by docs/security.md,
// rule 1) stay with the configured origin. Net/http alone drops only
// Authorization and cookies, and keeps them for another port of the same
// host or a subdomain. Headers are copied from the first request at every
// hop, so each hop is compared with the first.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	prev := via[len(via)-1]
	if req.URL.Scheme != prev.URL.Scheme {
		return &BlockedError{Host: req.URL.Hostname(), Reason: fmt.Sprintf("redirect from %s to %s refused", prev.URL.Scheme, req.URL.Scheme)}
	}
	if sameOrigin(req.URL, via[0].URL) {
		return nil
	}
	name, _ := req.Context().Value(sensitiveHeaderKey{}).(string)
	for k := range req.Header {
		if !keptAcrossOrigins(k) || strings.EqualFold(k, name) {
			delete(req.Header, k)
		}
	}
	return nil
}

// refuseRedirect is the redirect policy of token and discovery requests:
// a redirect is not followed (a 307 would post the client secret to
// wherever it leads); the 3xx is answered to the caller as it came.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// sameOrigin compares scheme, host name (case-insensitively) and port,
// the scheme's default port filled in.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		originPort(a) == originPort(b)
}

func originPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}
