package provider

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// A token endpoint answering once an access token that cannot go in a
// header ("bad-token\n") had it cached for its lifetime: every call failed
// in the transport until it expired (found by a defect hunt). It is now
// refused at fetch (an AuthError) and not kept: the next call asks again.
func TestUnsendableTokenIsRefusedNotCached(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"access_token with LF": `{"access_token":"bad-token\n","token_type":"bearer","expires_in":3600}`,
		"access_token with CR": `{"access_token":"bad\rtoken","token_type":"bearer","expires_in":3600}`,
		"token_type with CRLF": `{"access_token":"good-token","token_type":"bearer\r\nX-Injected: 1","expires_in":3600}`,
	} {
		srv := providertest.New(t)
		srv.AddClient("svc", "cs-SECRET")
		srv.RequireIssuedToken()
		srv.Enqueue(providertest.TokenPath, providertest.Response{Body: body})
		auth := Auth{Type: AuthOAuth2ClientCredentials, TokenURL: srv.TokenURL(), ClientID: "svc", ClientSecret: "cs-SECRET"}
		c := New(Options{AllowPrivate: true})

		_, err := c.Do(t.Context(), Request{URL: srv.URL + "/api", Auth: auth})
		var ae *AuthError
		require.ErrorAs(t, err, &ae, name)
		require.Equal(t, stageToken, ae.Stage, name)
		require.ErrorContains(t, err, "cannot be sent in a header", name)
		require.NotContains(t, err.Error(), "bad", name)
		require.Empty(t, srv.RequestsTo("/api"), name)

		resp, err := c.Do(t.Context(), Request{URL: srv.URL + "/api", Auth: auth})
		require.NoError(t, err, "%s: the next call fetches a new token", name)
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
		require.Len(t, srv.RequestsTo(providertest.TokenPath), 2, name)
	}
}

// An https issuer's discovery document naming an http token endpoint got
// the client secret sent in clear (found by a defect hunt).
func TestDiscoveryRefusesCleartextTokenEndpoint(t *testing.T) {
	t.Parallel()
	issuer := providertest.NewTLS(t)
	plain := providertest.New(t)
	plain.AddClient("svc", "cs-SECRET-0001")
	issuer.Enqueue(providertest.DiscoveryPath, providertest.Response{
		Body: `{"issuer":"` + issuer.URL + `","token_endpoint":"` + plain.TokenURL() + `"}`})
	pool := x509.NewCertPool()
	pool.AddCert(issuer.Certificate())
	c := New(Options{AllowPrivate: true, RootCAs: pool})
	auth := Auth{Type: AuthOIDCClientCredentials, IssuerURL: issuer.URL, ClientID: "svc", ClientSecret: "cs-SECRET-0001"}

	_, err := c.Do(t.Context(), Request{URL: issuer.URL + "/api", Auth: auth})
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, stageDiscovery, ae.Stage)
	require.ErrorContains(t, err, "cleartext")
	require.Zero(t, plain.TokenRequests(), "the client secret went to a cleartext token endpoint")

	// An http issuer (loopback development) may name an http endpoint.
	dev := providertest.New(t)
	dev.AddClient("svc", "cs-SECRET-0001")
	resp, err := c.Do(t.Context(), Request{URL: dev.URL + "/api",
		Auth: Auth{Type: AuthOIDCClientCredentials, IssuerURL: dev.IssuerURL(), ClientID: "svc", ClientSecret: "cs-SECRET-0001"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// A token endpoint echoing the form as JSON writes a secret holding '&',
// '<', '>', '"' or '\' JSON-escaped ("cs\u0026…"), a form the redactor
// did not know: the client secret reached the AuthError (found by a
// defect hunt).
func TestJSONEchoedSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{`cs&SECRET<0001>`, `cs"SECRET\0001`, "cs\tSECRET\u20280001"} {
		for _, html := range []bool{true, false} {
			srv := providertest.New(t)
			srv.HandleFunc(providertest.TokenPath, func(r providertest.Request) providertest.Response {
				form, _ := url.ParseQuery(string(r.Body))
				var b strings.Builder
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(html)
				_ = enc.Encode(map[string]any{"error": "invalid_client", "received": form})
				return providertest.Response{Status: http.StatusUnauthorized, Body: b.String()}
			})
			auth := Auth{Type: AuthOAuth2ClientCredentials, TokenURL: srv.TokenURL(), ClientID: "svc",
				ClientSecret: secret, AuthMethod: AuthMethodPost}
			_, err := New(Options{AllowPrivate: true}).Do(t.Context(), Request{URL: srv.URL, Auth: auth})
			require.ErrorContains(t, err, "[REDACTED]")
			require.NotContains(t, err.Error(), "SECRET", "secret %q, HTML escaping %v", secret, html)
		}
	}
}
