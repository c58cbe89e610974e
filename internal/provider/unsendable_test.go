package provider

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// A request net/http refuses to send (a CR or LF in a header, a header
// name with a space) failed in the transport with an error the engine
// could only take for a network fault: retried, and counted by the
// provider configuration's circuit breaker (found by a defect hunt). Do
// now checks the headers itself and answers a *RequestError: the
// request's own fault, nothing sent.
func TestUnsendableRequestIsARequestError(t *testing.T) {
	t.Parallel()
	srv := providertest.New(t)
	c := New(Options{AllowPrivate: true})
	for name, r := range map[string]Request{
		"header value with CRLF": {Header: http.Header{"X-Tenant": {"acme\r\nX-Injected: 1"}}},
		"header value with LF":   {Header: http.Header{"X-Tenant": {"acme\n"}}},
		"header value with NUL":  {Header: http.Header{"X-Tenant": {"ac\x00me"}}},
		"header name with space": {Header: http.Header{"X Tenant": {"acme"}}},
		"header name with CRLF":  {Header: http.Header{"X-Key\r\nX-Injected": {"1"}}},
		"HTTP/2-only refusal":    {Header: http.Header{"Connection": {"Upgrade"}}},
		"bearer token with LF":   {Auth: Auth{Type: AuthBearer, Token: "tok-SECRET-0001\n"}},
		"api key with CRLF":      {Auth: Auth{Type: AuthAPIKey, APIKey: "key-SECRET-0001\r\nX-Injected: 1"}},
		"api key header name":    {Auth: Auth{Type: AuthAPIKey, APIKey: "key-SECRET-0001", HeaderName: "X Api Key"}},
		"api key prefix with LF": {Auth: Auth{Type: AuthAPIKey, APIKey: "key-SECRET-0001", Prefix: "Key\n"}},
	} {
		r.URL = srv.URL + "/unsendable"
		_, err := c.Do(t.Context(), r)
		var re *RequestError
		require.ErrorAs(t, err, &re, name)
		require.NotContains(t, err.Error(), "SECRET", name)
		require.NotContains(t, err.Error(), "acme", "%s: the value is not quoted", name)
	}
	require.Empty(t, srv.RequestsTo("/unsendable"), "nothing was sent")

	// An unusable auth configuration is one too, and still ErrInvalidAuth.
	_, err := c.Do(t.Context(), Request{URL: srv.URL, Auth: Auth{Type: AuthBearer}})
	var re *RequestError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, ErrInvalidAuth)

	// A well-formed request goes out as before.
	resp, err := c.Do(t.Context(), Request{URL: srv.URL + "/fine", Header: http.Header{"X-Tenant": {"acme\tcorp é"}},
		Auth: Auth{Type: AuthBearer, Token: "tok-0001"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestCheckHeaders(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.Header{
		"value with CR":                 {"X-Tenant": {"a\rb"}},
		"value with LF":                 {"X-Tenant": {"a\nb"}},
		"value with DEL":                {"X-Tenant": {"a\x7fb"}},
		"second value bad":              {"X-Tenant": {"ok", "a\nb"}},
		"name with space":               {"X Tenant": {"a"}},
		"name with colon":               {"X-Tenant:": {"a"}},
		"empty name":                    {"": {"a"}},
		"Upgrade":                       {"Upgrade": {"websocket"}},
		"Transfer-Encoding not chunked": {"Transfer-Encoding": {"gzip"}},
		"Connection other":              {"Connection": {"Upgrade"}},
	} {
		require.ErrorIs(t, CheckHeaders(h), ErrInvalidHeader, name)
	}
	for name, h := range map[string]http.Header{
		"nil":                    nil,
		"ordinary":               {"X-Tenant": {"acme"}, "Accept": {"application/json"}},
		"tab, spaces, non-ASCII": {"X-Note": {" a\tb é "}},
		"empty value":            {"X-Empty": {""}},
		"Connection close":       {"Connection": {"close"}},
		"Connection keep-alive":  {"Connection": {"Keep-Alive"}},
	} {
		require.NoError(t, CheckHeaders(h), name)
	}
	err := CheckHeaders(http.Header{"X-Tenant": {"secret-value\n"}})
	require.ErrorContains(t, err, `"X-Tenant"`)
	require.NotContains(t, err.Error(), "secret-value", "the value is never quoted")
	// Two bad headers: the first by name is named, every time.
	err = CheckHeaders(http.Header{"X-B": {"b\n"}, "X-A": {"a\n"}, "X-C": {"c\n"}})
	require.ErrorContains(t, err, `"X-A"`)
}

// CheckHeaders runs before every provider call: sendable headers cost no
// allocation (not parallel: AllocsPerRun counts the whole process's).
func TestCheckHeadersAllocatesNothing(t *testing.T) {
	ok := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"e/n"}, "Authorization": {"Bearer t"}}
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = CheckHeaders(ok) }))
}

// Credentials that can never be sent in a header were accepted by
// Validate, so stored, and every call with them failed (found by a
// defect hunt). Basic credentials are base64-encoded: only a ':' in the
// user name matters there (RFC 7617), which the provider would read as
// another user and password.
func TestValidateRefusesUnsendableCredentials(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]map[string]any{
		"bearer token with CRLF":   {"type": "bearer", "token": "tok-0001\r\nX-Injected: yes"},
		"bearer token with LF":     {"type": "bearer", "token": "tok-0001\n"},
		"api key with LF":          {"type": "api_key", "api_key": "key-0001\nX-Injected: yes"},
		"api key prefix with CR":   {"type": "api_key", "api_key": "key-0001", "prefix": "Key\r"},
		"header name with space":   {"type": "api_key", "api_key": "key-0001", "header_name": "X Api Key"},
		"header name with CRLF":    {"type": "api_key", "api_key": "key-0001", "header_name": "X-Key\r\nX-Injected"},
		"basic user with a colon":  {"type": "basic", "username": "ops:team", "password": "pw-0001"},
		"api key header, location": {"type": "api_key", "api_key": "key\x00", "location": "header"},
	} {
		_, err := AuthFromMap(m)
		require.ErrorIs(t, err, ErrInvalidAuth, name)
		require.NotContains(t, err.Error(), "0001", "%s: the error names the field, not the value", name)
	}
	for name, m := range map[string]map[string]any{
		"api key in the query":         {"type": "api_key", "api_key": "key 0001\n", "location": "query"},
		"basic password with anything": {"type": "basic", "username": "ops", "password": "p:w\r\n0001"},
		"oidc_user name with a colon":  {"type": "oidc_user", "issuer_url": "https://idp.example.com", "client_id": "c", "username": "ops:team", "password": "pw"},
		"client secret with a colon":   {"type": "oauth2_client_credentials", "token_url": "https://idp.example.com/t", "client_id": "c:1", "client_secret": "s:\n"},
		"non-ASCII token":              {"type": "bearer", "token": "tök-0001"},
	} {
		_, err := AuthFromMap(m)
		require.NoError(t, err, name)
	}
}

// TargetFor, which the connectivity test, the engine and saving use,
// refuses static headers HTTP cannot carry.
func TestTargetForRefusesUnsendableHeaders(t *testing.T) {
	t.Parallel()
	for name, headers := range map[string]map[string]any{
		"value with CRLF": {"X-Tenant": "acme\r\nX-Injected: 1"},
		"name with space": {"X Tenant": "acme"},
	} {
		_, err := TargetFor("http", map[string]any{"base_url": "https://api.example.com", "headers": headers})
		require.ErrorIs(t, err, ErrInvalidHeader, name)
		require.ErrorContains(t, err, "headers: ", name)
	}
	_, err := TargetFor("http", map[string]any{"base_url": "https://api.example.com",
		"auth": map[string]any{"type": "bearer", "token": "tok-0001\n"}})
	require.ErrorIs(t, err, ErrInvalidAuth)
	tt, err := TargetFor("http", map[string]any{"base_url": "https://api.example.com", "headers": map[string]any{"x-tenant": "acme"}})
	require.NoError(t, err)
	require.Equal(t, "acme", tt.Header.Get("X-Tenant"))
}
