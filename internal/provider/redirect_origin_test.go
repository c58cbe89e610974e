package provider

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
	"flowker/internal/secret"
)

// A redirect to another origin took credentials along: checkRedirect
// dropped only the API key header, net/http keeps Authorization when only
// the port differs, and static headers (secret by docs/security.md,
// rule 1) went everywhere (found by a defect hunt). Now only the built-in
// safe headers, and the engine's Idempotency-Key, follow a redirect to
// another scheme, host or port; within the origin everything does.
func TestCrossOriginRedirectKeepsOnlySafeHeaders(t *testing.T) {
	t.Parallel()
	header := http.Header{
		"X-Auth-Token":    {"hdr-SECRET-0001"},
		"X-Tenant":        {"acme"},
		"Cookie":          {"session=SECRET"},
		"Content-Type":    {"application/json"},
		"X-Request-Id":    {"req-1"},
		"Idempotency-Key": {"idem-1"},
	}
	for _, auth := range []Auth{
		{Type: AuthBearer, Token: "bearer-SECRET-0001"},
		{Type: AuthBasic, Username: "u", Password: "pw-SECRET-0001"},
		{Type: AuthAPIKey, APIKey: "key-SECRET-0001", HeaderName: "X-Correlation-Id"}, // a safe name, still the key
	} {
		srv := providertest.New(t)
		other := providertest.New(t) // same address, another port
		srv.Respond("/away", providertest.Response{Status: http.StatusTemporaryRedirect, Header: http.Header{"Location": {other.URL + "/x"}}})
		srv.Respond("/near", providertest.Response{Status: http.StatusFound, Header: http.Header{"Location": {srv.URL + "/y"}}})
		c := New(Options{AllowPrivate: true})

		_, err := c.Do(t.Context(), Request{Method: http.MethodPost, URL: srv.URL + "/away", Header: header, Body: []byte("{}"), Auth: auth})
		require.NoError(t, err)
		got := other.RequestsTo("/x")
		require.Len(t, got, 1)
		h := got[0].Header
		for _, k := range []string{"Authorization", "X-Auth-Token", "X-Tenant", "Cookie"} {
			require.Empty(t, h.Get(k), "%s: %s followed a redirect to another port", auth.Type, k)
		}
		require.NotContains(t, h.Get("X-Correlation-Id"), "SECRET", "the API key header is dropped whatever its name")
		require.Equal(t, "application/json", h.Get("Content-Type"))
		require.Equal(t, "req-1", h.Get("X-Request-Id"))
		require.Equal(t, "idem-1", h.Get("Idempotency-Key"))

		// Within the origin, everything follows.
		_, err = c.Do(t.Context(), Request{URL: srv.URL + "/near", Header: header, Auth: auth})
		require.NoError(t, err)
		got = srv.RequestsTo("/y")
		require.Len(t, got, 1)
		require.Equal(t, "hdr-SECRET-0001", got[0].Header.Get("X-Auth-Token"))
		require.Equal(t, "acme", got[0].Header.Get("X-Tenant"))
		if auth.Type == AuthAPIKey {
			require.Equal(t, "key-SECRET-0001", got[0].Header.Get("X-Correlation-Id"))
		} else {
			require.NotEmpty(t, got[0].Header.Get("Authorization"))
		}
	}
}

// Headers are copied from the first request at every hop: a chain that
// leaves the origin and comes back gets them again only at the origin.
func TestRedirectChainComparesWithTheFirstOrigin(t *testing.T) {
	t.Parallel()
	srv := providertest.New(t)
	other := providertest.New(t)
	srv.Respond("/start", providertest.Response{Status: http.StatusFound, Header: http.Header{"Location": {other.URL + "/hop"}}})
	other.Respond("/hop", providertest.Response{Status: http.StatusFound, Header: http.Header{"Location": {other.URL + "/end"}}})
	_, err := New(Options{AllowPrivate: true}).Do(t.Context(), Request{URL: srv.URL + "/start",
		Header: http.Header{"X-Tenant": {"acme"}}, Auth: Auth{Type: AuthBearer, Token: "bearer-SECRET-0001"}})
	require.NoError(t, err)
	for _, path := range []string{"/hop", "/end"} {
		got := other.RequestsTo(path)
		require.Len(t, got, 1, path)
		require.Empty(t, got[0].Header.Get("Authorization"), path)
		require.Empty(t, got[0].Header.Get("X-Tenant"), path)
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	u := func(s string) *url.URL {
		p, err := url.Parse(s)
		require.NoError(t, err)
		return p
	}
	require.True(t, sameOrigin(u("https://API.example.com/a"), u("https://api.example.com:443/b")))
	require.True(t, sameOrigin(u("http://api.example.com/a"), u("http://api.example.com:80/b")))
	require.False(t, sameOrigin(u("https://api.example.com"), u("https://api.example.com:8443")))
	require.False(t, sameOrigin(u("https://api.example.com"), u("https://evil.api.example.com")))
	require.False(t, sameOrigin(u("https://api.example.com"), u("http://api.example.com")))
}

// A 307 from the token endpoint re-posted the form, client secret
// included, to wherever it led (found by a defect hunt). Token and
// discovery requests now follow no redirect: the 3xx is the answer.
func TestTokenAndDiscoveryRequestsFollowNoRedirect(t *testing.T) {
	t.Parallel()
	for _, method := range []string{AuthMethodPost, AuthMethodBasic} {
		srv := providertest.New(t)
		other := providertest.New(t)
		srv.Enqueue(providertest.TokenPath, providertest.Response{Status: http.StatusTemporaryRedirect,
			Header: http.Header{"Location": {other.URL + "/collect"}}})
		auth := Auth{Type: AuthOAuth2ClientCredentials, TokenURL: srv.TokenURL(), ClientID: "svc",
			ClientSecret: "cs-SECRET-0001", AuthMethod: method}
		_, err := New(Options{AllowPrivate: true}).Do(t.Context(), Request{URL: srv.URL + "/api", Auth: auth})
		var ae *AuthError
		require.ErrorAs(t, err, &ae, method)
		require.Equal(t, http.StatusTemporaryRedirect, ae.StatusCode)
		require.ErrorContains(t, err, "redirects are not followed")
		require.Empty(t, other.Requests(), "%s: the token request followed the redirect", method)
		require.Empty(t, srv.RequestsTo("/api"))
	}

	issuer := providertest.New(t)
	other := providertest.New(t)
	other.AddClient("svc", "cs-SECRET-0001")
	issuer.Enqueue(providertest.DiscoveryPath, providertest.Response{Status: http.StatusFound,
		Header: http.Header{"Location": {other.URL + providertest.DiscoveryPath}}})
	auth := Auth{Type: AuthOIDCClientCredentials, IssuerURL: issuer.URL, ClientID: "svc", ClientSecret: "cs-SECRET-0001"}
	_, err := New(Options{AllowPrivate: true}).Do(t.Context(), Request{URL: issuer.URL + "/api", Auth: auth})
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, stageDiscovery, ae.Stage)
	require.Equal(t, http.StatusFound, ae.StatusCode)
	require.Empty(t, other.Requests(), "the discovery request followed the redirect")
	require.Zero(t, other.TokenRequests())
}

// The headers kept across origins are the secret rules' built-in safe
// list (docs/security.md, rule 1), copied here because provider imports
// no flowker package.
func TestSafeHeadersMatchTheSecretRules(t *testing.T) {
	t.Parallel()
	documented := []string{"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Cache-Control",
		"Connection", "Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "Date", "Host",
		"Prefer", "Traceparent", "Tracestate", "User-Agent", "X-Correlation-Id", "X-Request-Id"}
	require.Len(t, safeHeaders, len(documented))
	for _, h := range documented {
		require.True(t, safeHeaders[h], h)
		require.True(t, secret.SafeHeader(h), "%s is no longer safe by internal/secret: update safeHeaders", h)
		require.True(t, keptAcrossOrigins(strings.ToLower(h)), h)
	}
	for _, h := range []string{"Authorization", "X-Api-Key", "X-Auth-Token", "Cookie", "X-Tenant", "Proxy-Authorization"} {
		require.False(t, keptAcrossOrigins(h), h)
		require.False(t, secret.SafeHeader(h), h)
	}
}
