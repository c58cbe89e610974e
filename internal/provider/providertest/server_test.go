package providertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func get(t *testing.T, s *Server, path string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+path, nil)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestScriptedResponses(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.Enqueue("/x", Response{Status: http.StatusServiceUnavailable}, Response{Status: http.StatusAccepted, Body: "second"})
	s.HandleFunc("/x", func(r Request) Response { return Response{Body: "handler " + r.Query.Get("n")} })

	want := []struct {
		status int
		body   string
	}{{http.StatusServiceUnavailable, ""}, {http.StatusAccepted, "second"}, {http.StatusOK, "handler 3"}}
	for i, w := range want {
		status, body := get(t, s, "/x?n="+strconv.Itoa(i+1), nil)
		require.Equal(t, w.status, status)
		require.Equal(t, w.body, body)
	}
	status, body := get(t, s, "/other", nil)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"status":"ok"}`, body)

	reqs := s.Requests()
	require.Len(t, reqs, 4)
	require.Equal(t, url.Values{"n": {"3"}}, reqs[2].Query)
	require.Len(t, s.RequestsTo("/x"), 3)
}

func TestAuthExpectationAndTokens(t *testing.T) {
	t.Parallel()
	s := NewTLS(t)
	s.AddClient("c", "s")
	s.RequireIssuedToken()

	status, _ := get(t, s, "/api", http.Header{"Authorization": {"Bearer made-up"}})
	require.Equal(t, http.StatusUnauthorized, status)

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	require.Equal(t, 3600, tok.ExpiresIn)

	status, _ = get(t, s, "/api", http.Header{"Authorization": {"Bearer " + tok.AccessToken}})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 1, s.TokenRequests())
}
