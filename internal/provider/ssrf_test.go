package provider

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

func TestBlockReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip           string
		allowPrivate bool
		want         string // "" = allowed
	}{
		{"8.8.8.8", false, ""},
		{"2606:4700:4700::1111", false, ""},
		{"127.0.0.1", false, "loopback address"},
		{"127.0.0.1", true, ""},
		{"::1", false, "loopback address"},
		{"::ffff:127.0.0.1", false, "loopback address"},
		{"10.1.2.3", false, "private address"},
		{"172.16.0.1", false, "private address"},
		{"192.168.1.1", false, "private address"},
		{"192.168.1.1", true, ""},
		{"fd12::1", false, "private address"},
		{"169.254.169.254", true, "cloud metadata address"},
		{"::ffff:169.254.169.254", true, "cloud metadata address"},
		{"fd00:ec2::254", true, "cloud metadata address"},
		{"169.254.1.1", true, "link-local address"},
		{"fe80::1", true, "link-local address"},
		{"224.0.0.1", true, "multicast address"},
		{"ff02::1", true, "multicast address"},
		{"0.0.0.0", true, "unspecified address"},
		{"::", true, "unspecified address"},
		{"0.1.2.3", true, `"this network" range`},
		{"100.64.0.1", true, "carrier-grade NAT range"},
		{"192.0.0.8", true, "IETF protocol assignments range"},
		{"192.0.2.1", true, "documentation range"},
		{"198.51.100.1", true, "documentation range"},
		{"203.0.113.1", true, "documentation range"},
		{"198.18.0.1", true, "benchmarking range"},
		{"240.0.0.1", true, "reserved range"},
		{"255.255.255.255", true, "reserved range"},
		{"2001:db8::1", true, "documentation range"},
		{"64:ff9b::a9fe:a9fe", true, "cloud metadata address via NAT64"},
		{"64:ff9b::808:808", false, ""},
		{"::127.0.0.1", true, "IPv4-compatible range"},
		{"::a9fe:a9fe", true, "IPv4-compatible range"},
		// 6to4 carries an IPv4 address a relay forwards to; local-use NAT64
		// and Teredo lead nowhere a provider is (found by a defect hunt).
		{"2002:7f00:1::", false, "loopback address via 6to4"},
		{"2002:7f00:1::", true, ""},
		{"2002:a00:1::1", false, "private address via 6to4"},
		{"2002:a9fe:a9fe::", true, "cloud metadata address via 6to4"},
		{"2002:808:808::1", false, ""},
		{"64:ff9b:1::a9fe:a9fe", true, "local-use NAT64 range"},
		{"64:ff9b:1::7f00:1", true, "local-use NAT64 range"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", true, "Teredo range"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, blockReason(netip.MustParseAddr(tt.ip), tt.allowPrivate), "%s allowPrivate=%v", tt.ip, tt.allowPrivate)
	}
}

// requireBlocked checks err is a *BlockedError and returns its IP; ip may
// list alternatives separated by "|" (localhost may resolve to ::1 first).
func requireBlocked(t *testing.T, err error, host, ip, reason string) string {
	t.Helper()
	var be *BlockedError
	require.ErrorAs(t, err, &be)
	require.Equal(t, host, be.Host)
	require.True(t, slices.Contains(strings.Split(ip, "|"), be.IP), "IP %q, want %q", be.IP, ip)
	require.Contains(t, be.Reason, reason)
	require.Contains(t, err.Error(), be.Error())
	return be.IP
}

func TestDoSSRF(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		allowPrivate bool
		url          func(srv *providertest.Server) string
		host, ip     string
		reason       string
	}{
		{
			name: "loopback without AllowPrivate",
			url:  func(srv *providertest.Server) string { return srv.URL },
			host: "127.0.0.1", ip: "127.0.0.1", reason: "loopback",
		},
		{
			name: "loopback by name without AllowPrivate",
			url:  func(srv *providertest.Server) string { return srv.LocalhostURL() },
			host: "localhost", ip: "127.0.0.1|::1", reason: "loopback",
		},
		{
			name: "redirect from an allowed server to the metadata address", allowPrivate: true,
			url: func(srv *providertest.Server) string {
				srv.Respond("/go", providertest.Response{Status: http.StatusFound, Header: http.Header{"Location": {"http://169.254.169.254/latest/meta-data/"}}})
				return srv.URL + "/go"
			},
			host: "169.254.169.254", ip: "169.254.169.254", reason: "cloud metadata",
		},
		{
			name: "redirect from an allowed server to a metadata host name", allowPrivate: true,
			url: func(srv *providertest.Server) string {
				srv.Respond("/go", providertest.Response{Status: http.StatusTemporaryRedirect, Header: http.Header{"Location": {"http://metadata.google.internal/computeMetadata/v1/"}}})
				return srv.URL + "/go"
			},
			host: "metadata.google.internal", reason: "cloud metadata host name",
		},
		{
			name: "metadata address with AllowPrivate", allowPrivate: true,
			url:  func(*providertest.Server) string { return "http://169.254.169.254/latest/meta-data/" },
			host: "169.254.169.254", ip: "169.254.169.254", reason: "cloud metadata",
		},
		{
			name: "gcp metadata name with AllowPrivate", allowPrivate: true,
			url:  func(*providertest.Server) string { return "http://METADATA.GCP.INTERNAL./x" },
			host: "METADATA.GCP.INTERNAL.", reason: "cloud metadata host name",
		},
		{
			name: "azure metadata name with AllowPrivate", allowPrivate: true,
			url:  func(*providertest.Server) string { return "https://metadata.azure.internal/metadata/instance" },
			host: "metadata.azure.internal", reason: "cloud metadata host name",
		},
		{
			name: "file scheme", allowPrivate: true,
			url:    func(*providertest.Server) string { return "file:///etc/passwd" },
			reason: `scheme "file" not allowed`,
		},
		{
			name: "gopher scheme", allowPrivate: true,
			url:  func(*providertest.Server) string { return "gopher://127.0.0.1:70/" },
			host: "127.0.0.1:70", reason: `scheme "gopher" not allowed`,
		},
		{
			name: "redirect to another scheme", allowPrivate: true,
			url: func(srv *providertest.Server) string {
				srv.Respond("/go", providertest.Response{Status: http.StatusFound, Header: http.Header{"Location": {"https://127.0.0.1/"}}})
				return srv.URL + "/go"
			},
			host: "127.0.0.1", reason: "redirect from http to https refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := providertest.New(t)
			c := New(Options{AllowPrivate: tt.allowPrivate})
			_, err := c.Do(t.Context(), Request{URL: tt.url(srv)})
			if ip := requireBlocked(t, err, tt.host, tt.ip, tt.reason); ip != "" {
				require.Contains(t, err.Error(), "blocked by SSRF policy: "+tt.host+" resolves to "+ip+" (")
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()

	t.Run("at most 10", func(t *testing.T) {
		t.Parallel()
		srv := providertest.New(t)
		srv.Respond("/loop", providertest.Response{Status: http.StatusFound, Header: http.Header{"Location": {"/loop"}}})
		_, err := New(Options{AllowPrivate: true}).Do(t.Context(), Request{URL: srv.URL + "/loop"})
		require.ErrorContains(t, err, "stopped after 10 redirects")
		require.Len(t, srv.Requests(), 10)
	})

	t.Run("followed within the host, API key header dropped on another host", func(t *testing.T) {
		t.Parallel()
		target := providertest.New(t)
		srv := providertest.New(t)
		srv.Respond("/same", providertest.Response{Status: http.StatusFound, Header: http.Header{"Location": {"/final"}}})
		srv.Respond("/other", providertest.Response{Status: http.StatusFound, Header: http.Header{"Location": {target.LocalhostURL() + "/final"}}})
		c := New(Options{AllowPrivate: true})
		auth := Auth{Type: AuthAPIKey, APIKey: "k-SECRET"}

		resp, err := c.Do(t.Context(), Request{URL: srv.URL + "/same", Auth: auth})
		require.NoError(t, err)
		require.Equal(t, srv.URL+"/final", resp.URL)
		require.Equal(t, "k-SECRET", srv.RequestsTo("/final")[0].Header.Get("X-API-Key"))

		resp, err = c.Do(t.Context(), Request{URL: srv.URL + "/other", Auth: auth})
		require.NoError(t, err)
		require.Equal(t, target.LocalhostURL()+"/final", resp.URL)
		require.Empty(t, target.RequestsTo("/final")[0].Header.Get("X-API-Key"))
	})
}

// TestTLSVerifiesHostName shows that the SSRF dialer keeps certificate
// verification intact: the connection is made by host name, so the
// certificate is checked against "localhost", not against the IP.
func TestTLSVerifiesHostName(t *testing.T) {
	t.Parallel()
	srv := providertest.NewTLS(t)
	other := providertest.NewTLS(t)
	pool := func(s *providertest.Server) *x509.CertPool {
		p := x509.NewCertPool()
		p.AddCert(s.Certificate())
		return p
	}

	c := New(Options{AllowPrivate: true, RootCAs: pool(srv)})
	resp, err := c.Do(t.Context(), Request{URL: srv.LocalhostURL() + "/secure"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "localhost", srv.RequestsTo("/secure")[0].TLSServerName)

	for name, p := range map[string]*x509.CertPool{"another server's CA": pool(other), "empty pool": x509.NewCertPool()} {
		_, err := New(Options{AllowPrivate: true, RootCAs: p}).Do(t.Context(), Request{URL: srv.LocalhostURL() + "/secure"})
		var verr *tls.CertificateVerificationError
		require.ErrorAs(t, err, &verr, name)
	}

	// Still blocked without AllowPrivate: TLS does not bypass the dialer.
	_, err = New(Options{RootCAs: pool(srv)}).Do(t.Context(), Request{URL: srv.LocalhostURL()})
	requireBlocked(t, err, "localhost", "127.0.0.1|::1", "loopback")
}

func TestNewNeverUsesDefaultTransport(t *testing.T) {
	t.Parallel()
	c := New(Options{})
	tr, ok := c.http.Transport.(*http.Transport)
	require.True(t, ok)
	require.NotSame(t, http.DefaultTransport, tr)
	require.Nil(t, tr.Proxy, "a proxy would bypass the connect-time check")
	require.NotNil(t, tr.DialContext)

	wrapped := roundTripFunc(func(r *http.Request) (*http.Response, error) { return nil, errors.New("wrapped " + r.URL.Host) })
	_, err := New(Options{Transport: wrapped}).Do(t.Context(), Request{URL: "http://example.test/"})
	require.ErrorContains(t, err, "wrapped example.test")
	fresh, ok := NewTransport(Options{}).(*http.Transport)
	require.True(t, ok)
	require.NotSame(t, tr, fresh)
	require.Nil(t, fresh.Proxy)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
