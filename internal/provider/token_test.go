package provider

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// tokenAuths returns one Auth per token-endpoint type, registered on srv.
func tokenAuths(srv *providertest.Server) map[string]Auth {
	srv.AddClient("svc", "cs-SECRET")
	srv.AddUser("alice", "pw-SECRET")
	srv.RequireIssuedToken()
	return map[string]Auth{
		AuthOAuth2ClientCredentials: {Type: AuthOAuth2ClientCredentials, TokenURL: srv.TokenURL(), ClientID: "svc", ClientSecret: "cs-SECRET"},
		AuthOIDCClientCredentials:   {Type: AuthOIDCClientCredentials, IssuerURL: srv.IssuerURL(), ClientID: "svc", ClientSecret: "cs-SECRET", Scopes: []string{"a"}},
		AuthOIDCUser:                {Type: AuthOIDCUser, IssuerURL: srv.IssuerURL(), ClientID: "svc", ClientSecret: "cs-SECRET", Username: "alice", Password: "pw-SECRET"},
	}
}

// fakeClock shifts the token cache's clock; safe to move between calls.
func fakeClock(c *Client) *atomic.Int64 {
	var offset atomic.Int64
	c.tokens.now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	return &offset
}

func mustDo(t *testing.T, c *Client, r Request) *Response {
	t.Helper()
	resp, err := c.Do(t.Context(), r)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(resp.Body))
	return resp
}

func TestTokenCacheOneFetch(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{AuthOAuth2ClientCredentials, AuthOIDCClientCredentials, AuthOIDCUser} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			srv := providertest.New(t)
			auth := tokenAuths(srv)[typ]
			c := New(Options{AllowPrivate: true})

			var wg sync.WaitGroup
			errs := make(chan error, 20)
			for range 20 { // concurrent first requests share one fetch
				wg.Go(func() {
					resp, err := c.Do(t.Context(), Request{URL: srv.URL, Auth: auth})
					if err == nil && resp.StatusCode != http.StatusOK {
						err = &AuthError{Type: "unexpected", StatusCode: resp.StatusCode}
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			for range 5 {
				mustDo(t, c, Request{URL: srv.URL, Auth: auth})
			}
			require.Equal(t, 1, srv.TokenRequests())
			wantDiscovery := 1
			if typ == AuthOAuth2ClientCredentials {
				wantDiscovery = 0
			}
			require.Len(t, srv.RequestsTo(providertest.DiscoveryPath), wantDiscovery)
		})
	}
}

func TestTokenCacheExpiry(t *testing.T) {
	t.Parallel()

	t.Run("token expiring within 60 s is fetched again", func(t *testing.T) {
		t.Parallel()
		srv := providertest.New(t)
		srv.SetTokenExpiresIn(30)
		auth := tokenAuths(srv)[AuthOAuth2ClientCredentials]
		c := New(Options{AllowPrivate: true})
		for range 3 {
			mustDo(t, c, Request{URL: srv.URL, Auth: auth})
		}
		require.Equal(t, 3, srv.TokenRequests())
	})

	t.Run("reused until 60 s before expiry", func(t *testing.T) {
		t.Parallel()
		srv := providertest.New(t)
		srv.SetTokenExpiresIn(3600)
		auth := tokenAuths(srv)[AuthOIDCClientCredentials]
		c := New(Options{AllowPrivate: true})
		clock := fakeClock(c)
		mustDo(t, c, Request{URL: srv.URL, Auth: auth})
		clock.Store(int64(3600*time.Second - 61*time.Second))
		mustDo(t, c, Request{URL: srv.URL, Auth: auth})
		require.Equal(t, 1, srv.TokenRequests())
		clock.Store(int64(3600*time.Second - 59*time.Second))
		mustDo(t, c, Request{URL: srv.URL, Auth: auth})
		require.Equal(t, 2, srv.TokenRequests())
		require.Len(t, srv.RequestsTo(providertest.DiscoveryPath), 1, "discovery is cached for an hour")
		clock.Store(int64(61 * time.Minute))
		mustDo(t, c, Request{URL: srv.URL, Auth: auth})
		require.Len(t, srv.RequestsTo(providertest.DiscoveryPath), 2)
	})

	t.Run("oidc_user refreshes with the refresh token", func(t *testing.T) {
		t.Parallel()
		srv := providertest.New(t)
		srv.SetTokenExpiresIn(30)
		auth := tokenAuths(srv)[AuthOIDCUser]
		c := New(Options{AllowPrivate: true})
		for range 3 {
			mustDo(t, c, Request{URL: srv.URL, Auth: auth})
		}
		var grants []string
		for _, r := range srv.RequestsTo(providertest.TokenPath) {
			grants = append(grants, form(t, r).Get("grant_type"))
		}
		require.Equal(t, []string{"password", "refresh_token", "refresh_token"}, grants)
	})

	t.Run("a refused refresh falls back to the password grant", func(t *testing.T) {
		t.Parallel()
		srv := providertest.New(t)
		srv.SetTokenExpiresIn(30)
		auth := tokenAuths(srv)[AuthOIDCUser]
		c := New(Options{AllowPrivate: true})
		mustDo(t, c, Request{URL: srv.URL, Auth: auth})
		srv.Enqueue(providertest.TokenPath, providertest.Response{Status: http.StatusBadRequest, Body: `{"error":"invalid_grant"}`})
		mustDo(t, c, Request{URL: srv.URL, Auth: auth})
		require.Equal(t, 2, srv.TokenRequests(), "the refused refresh was scripted, not counted")
		require.Len(t, srv.RequestsTo(providertest.TokenPath), 3)
	})
}

func TestTokenCacheKeysAndFailures(t *testing.T) {
	t.Parallel()

	t.Run("a failed fetch is not cached", func(t *testing.T) {
		t.Parallel()
		srv := providertest.New(t)
		srv.RequireIssuedToken()
		auth := Auth{Type: AuthOAuth2ClientCredentials, TokenURL: srv.TokenURL(), ClientID: "late", ClientSecret: "cs-SECRET"}
		c := New(Options{AllowPrivate: true})
		_, err := c.Do(t.Context(), Request{URL: srv.URL, Auth: auth})
		var ae *AuthError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, http.StatusUnauthorized, ae.StatusCode)
		require.Equal(t, stageToken, ae.Stage)
		require.Contains(t, ae.Body, "invalid_client")
		srv.AddClient("late", "cs-SECRET")
		mustDo(t, c, Request{URL: srv.URL, Auth: auth})
		require.Equal(t, 2, srv.TokenRequests())
	})

	t.Run("different credentials get different tokens", func(t *testing.T) {
		t.Parallel()
		srv := providertest.New(t)
		auth := tokenAuths(srv)[AuthOIDCClientCredentials]
		srv.AddClient("svc2", "cs2-SECRET")
		other := auth
		other.ClientID, other.ClientSecret = "svc2", "cs2-SECRET"
		scoped := auth
		scoped.Scopes = []string{"b"}
		c := New(Options{AllowPrivate: true})
		for _, a := range []Auth{auth, other, scoped, auth, other, scoped} {
			mustDo(t, c, Request{URL: srv.URL, Auth: a})
		}
		require.Equal(t, 3, srv.TokenRequests())
		require.Len(t, srv.RequestsTo(providertest.DiscoveryPath), 1)
	})

	t.Run("a 401 from the provider drops the cached token", func(t *testing.T) {
		t.Parallel()
		srv := providertest.New(t)
		auth := tokenAuths(srv)[AuthOAuth2ClientCredentials]
		srv.Enqueue("/api", providertest.Response{Status: http.StatusUnauthorized})
		c := New(Options{AllowPrivate: true})
		resp, err := c.Do(t.Context(), Request{URL: srv.URL + "/api", Auth: auth})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		mustDo(t, c, Request{URL: srv.URL + "/api", Auth: auth})
		require.Equal(t, 2, srv.TokenRequests())
	})

	t.Run("discovery failures", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, body string
			status     int
			want       string
		}{
			{"not found", "no such issuer", http.StatusNotFound, "returned status 404: no such issuer"},
			{"no token endpoint", `{"issuer":"x"}`, http.StatusOK, "no valid token_endpoint"},
			{"not json", `<html>`, http.StatusOK, "invalid discovery document"},
		}
		for _, tt := range tests {
			srv := providertest.New(t)
			srv.Enqueue(providertest.DiscoveryPath, providertest.Response{Status: tt.status, Body: tt.body})
			auth := tokenAuths(srv)[AuthOIDCClientCredentials]
			_, err := New(Options{AllowPrivate: true}).Do(t.Context(), Request{URL: srv.URL, Auth: auth})
			var ae *AuthError
			require.ErrorAs(t, err, &ae, tt.name)
			require.Equal(t, stageDiscovery, ae.Stage)
			require.ErrorContains(t, err, tt.want)
			require.Zero(t, srv.TokenRequests())
		}
	})

	t.Run("token requests go through the SSRF policy", func(t *testing.T) {
		t.Parallel()
		srv := providertest.New(t)
		srv.Enqueue(providertest.DiscoveryPath, providertest.Response{Body: `{"token_endpoint":"http://169.254.169.254/token"}`})
		for _, auth := range []Auth{
			{Type: AuthOAuth2ClientCredentials, TokenURL: "http://169.254.169.254/token", ClientID: "c", ClientSecret: "s"},
			{Type: AuthOIDCClientCredentials, IssuerURL: srv.IssuerURL(), ClientID: "c", ClientSecret: "s"},
			{Type: AuthOIDCClientCredentials, IssuerURL: "http://metadata.google.internal", ClientID: "c", ClientSecret: "s"},
		} {
			_, err := New(Options{AllowPrivate: true}).Do(t.Context(), Request{URL: srv.URL, Auth: auth})
			var ae *AuthError
			require.ErrorAs(t, err, &ae)
			var be *BlockedError
			require.ErrorAs(t, err, &be)
		}
	})
}

// TestTokenFetchOutlivesImpatientCaller: a caller giving up does not fail
// the fetch the others are waiting for.
func TestTokenFetchOutlivesImpatientCaller(t *testing.T) {
	t.Parallel()
	srv := providertest.New(t)
	auth := tokenAuths(srv)[AuthOAuth2ClientCredentials]
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	srv.Hold(providertest.TokenPath, release)
	c := New(Options{AllowPrivate: true})

	patient := make(chan error, 1)
	go func() {
		_, err := c.Do(t.Context(), Request{URL: srv.URL, Auth: auth, Timeout: time.Minute})
		patient <- err
	}()
	_, err := c.Do(t.Context(), Request{URL: srv.URL, Auth: auth, Timeout: 20 * time.Millisecond})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	once.Do(func() { close(release) })
	require.NoError(t, <-patient)
	require.Equal(t, 1, srv.TokenRequests())
}
