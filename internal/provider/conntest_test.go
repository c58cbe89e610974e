package provider

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

var secretValues = []string{"k-SECRET", "t-SECRET", "pw-SECRET", "cs-SECRET", "wrong-SECRET"}

func TestConnectivityTest(t *testing.T) {
	t.Parallel()
	type stage struct{ status, text string } // text: message, or error for a failed stage
	tests := []struct {
		name         string
		allowPrivate bool
		setup        func(t *testing.T, srv *providertest.Server) TestTarget
		overall      string
		summary      string
		stages       []stage
		check        func(t *testing.T, srv *providertest.Server, res TestResult)
	}{
		{
			name: "all passed", allowPrivate: true,
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				srv.RequireBearer("t-SECRET")
				srv.Respond("/v1/health", providertest.Response{Header: http.Header{"Content-Type": {"application/json"}}, Body: `{"ok":true}`})
				return TestTarget{BaseURL: srv.URL + "/", E2EMethod: http.MethodPost, E2EPath: "/v1/health",
					Header: http.Header{"X-Tenant": {"t1"}}, Auth: Auth{Type: AuthBearer, Token: "t-SECRET"}}
			},
			overall: StatusPassed, summary: "All tests passed - provider configuration connectivity verified",
			stages: []stage{
				{StatusPassed, "Provider is reachable"}, // 401 without auth still proves reachability
				{StatusPassed, "Authentication successful"},
				{StatusPassed, "Full request/response cycle completed successfully"},
			},
			check: func(t *testing.T, srv *providertest.Server, res TestResult) {
				reqs := srv.Requests()
				require.Len(t, reqs, 3)
				require.Empty(t, reqs[0].Header.Get("Authorization"), "connectivity is unauthenticated")
				require.Empty(t, reqs[0].Header.Get("X-Tenant"))
				require.Equal(t, "t1", reqs[1].Header.Get("X-Tenant"))
				require.Equal(t, http.MethodPost, reqs[2].Method)
				require.Equal(t, "/v1/health", reqs[2].Path)
				require.Equal(t, http.StatusUnauthorized, res.Stages[0].Details["statusCode"])
				require.Equal(t, srv.URL+"/", res.Stages[0].Details["url"])
				require.Equal(t, AuthBearer, res.Stages[1].Details["authType"])
				require.Equal(t, false, res.Stages[1].Details["hasApiKey"])
				require.Equal(t, 1, res.Stages[1].Details["headerCount"])
				require.Equal(t, http.StatusOK, res.Stages[1].Details["statusCode"])
				require.Equal(t, len(`{"ok":true}`), res.Stages[2].Details["responseBodyLen"])
				require.Equal(t, "application/json", res.Stages[2].Details["contentType"])
				require.Contains(t, res.Stages[2].Details, "responseTimeMs")
			},
		},
		{
			name: "closed port", allowPrivate: true,
			setup: func(t *testing.T, _ *providertest.Server) TestTarget {
				return TestTarget{BaseURL: closedPortURL(t), Auth: Auth{Type: AuthAPIKey, APIKey: "k-SECRET", Location: LocationQuery}}
			},
			overall: StatusFailed, summary: "All tests failed - provider configuration needs review",
			stages: []stage{
				{StatusFailed, "connection refused"},
				{StatusSkipped, "Skipped due to connectivity failure"},
				{StatusSkipped, "Skipped due to connectivity failure"},
			},
		},
		{
			name: "private address without AllowPrivate",
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				return TestTarget{BaseURL: srv.URL, Auth: Auth{Type: AuthBasic, Username: "u", Password: "pw-SECRET"}}
			},
			overall: StatusFailed, summary: "All tests failed - provider configuration needs review",
			stages: []stage{
				{StatusFailed, "blocked by SSRF policy: 127.0.0.1 resolves to 127.0.0.1 (loopback address)"},
				{StatusSkipped, "Skipped due to connectivity failure"},
				{StatusSkipped, "Skipped due to connectivity failure"},
			},
			check: func(t *testing.T, srv *providertest.Server, _ TestResult) {
				require.Empty(t, srv.Requests())
			},
		},
		{
			name: "server error on connectivity", allowPrivate: true,
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				srv.Respond("/", providertest.Response{Status: http.StatusServiceUnavailable})
				return TestTarget{BaseURL: srv.URL}
			},
			overall: StatusFailed, summary: "All tests failed - provider configuration needs review",
			stages: []stage{
				{StatusFailed, "unexpected status code: 503"},
				{StatusSkipped, "Skipped due to connectivity failure"},
				{StatusSkipped, "Skipped due to connectivity failure"},
			},
		},
		{
			name: "401 on the authentication stage", allowPrivate: true,
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				srv.RequireBearer("t-SECRET")
				return TestTarget{BaseURL: srv.URL, Auth: Auth{Type: AuthBearer, Token: "wrong-SECRET"}}
			},
			overall: StatusPartial, summary: "Some tests failed - review failed stages before use",
			stages: []stage{
				{StatusPassed, "Provider is reachable"},
				{StatusFailed, "authentication rejected: status 401"},
				{StatusSkipped, "Skipped due to authentication failure"},
			},
		},
		{
			name: "404 on the end-to-end stage", allowPrivate: true,
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				srv.RequireAPIKey("X-API-Key", "k-SECRET")
				srv.Respond("/missing", providertest.Response{Status: http.StatusNotFound, Body: `{"error":"not found"}`})
				return TestTarget{BaseURL: srv.URL, E2EPath: "missing", Auth: Auth{Type: AuthAPIKey, APIKey: "k-SECRET"}}
			},
			overall: StatusPartial, summary: "Some tests failed - review failed stages before use",
			stages: []stage{
				{StatusPassed, "Provider is reachable"},
				{StatusPassed, "Authentication successful"},
				{StatusFailed, "request returned status 404"},
			},
		},
		{
			name: "auth endpoint answers 404", allowPrivate: true,
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				srv.Respond("/", providertest.Response{Status: http.StatusNotFound})
				srv.Respond("/ok", providertest.Response{})
				return TestTarget{BaseURL: srv.URL, E2EPath: "/ok", Auth: Auth{Type: AuthBasic, Username: "u", Password: "pw-SECRET"}}
			},
			overall: StatusPassed, summary: "All tests passed - provider configuration connectivity verified",
			stages: []stage{
				{StatusPassed, "Provider is reachable"},
				{StatusPassed, "Authentication accepted (endpoint returned non-auth error)"},
				{StatusPassed, "Full request/response cycle completed successfully"},
			},
		},
		{
			name: "no auth", allowPrivate: true,
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				return TestTarget{BaseURL: srv.URL}
			},
			overall: StatusPassed, summary: "All tests passed - provider configuration connectivity verified",
			stages: []stage{
				{StatusPassed, "Provider is reachable"},
				{StatusSkipped, "No authentication credentials configured"},
				{StatusPassed, "Full request/response cycle completed successfully"},
			},
		},
		{
			// Static headers can carry credentials: the reference tests them too.
			name: "headers only", allowPrivate: true,
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				srv.RequireAPIKey("X-Partner-Key", "p-SECRET")
				return TestTarget{BaseURL: srv.URL, Header: http.Header{"X-Partner-Key": {"p-SECRET"}}}
			},
			overall: StatusPassed, summary: "All tests passed - provider configuration connectivity verified",
			stages: []stage{
				{StatusPassed, "Provider is reachable"},
				{StatusPassed, "Authentication successful"},
				{StatusPassed, "Full request/response cycle completed successfully"},
			},
			check: func(t *testing.T, srv *providertest.Server, res TestResult) {
				require.Equal(t, map[string]any{"authType": AuthNone, "hasApiKey": false, "headerCount": 1,
					"statusCode": http.StatusOK, "responseTimeMs": res.Stages[1].Details["responseTimeMs"]}, res.Stages[1].Details)
				require.Equal(t, "p-SECRET", srv.Requests()[1].Header.Get("X-Partner-Key"))
			},
		},
		{
			name: "api key", allowPrivate: true,
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				srv.RequireAPIKey("X-API-Key", "k-SECRET")
				return TestTarget{BaseURL: srv.URL, Auth: Auth{Type: AuthAPIKey, APIKey: "k-SECRET", HeaderName: "X-API-Key"}}
			},
			overall: StatusPassed, summary: "All tests passed - provider configuration connectivity verified",
			stages: []stage{
				{StatusPassed, "Provider is reachable"},
				{StatusPassed, "Authentication successful"},
				{StatusPassed, "Full request/response cycle completed successfully"},
			},
			check: func(t *testing.T, _ *providertest.Server, res TestResult) {
				require.Equal(t, true, res.Stages[1].Details["hasApiKey"])
				require.Equal(t, 0, res.Stages[1].Details["headerCount"])
			},
		},
		{
			name: "oidc token endpoint rejects the client", allowPrivate: true,
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				srv.AddClient("svc", "cs-SECRET")
				return TestTarget{BaseURL: srv.URL, Auth: Auth{Type: AuthOIDCClientCredentials, IssuerURL: srv.IssuerURL(), ClientID: "svc", ClientSecret: "wrong-SECRET"}}
			},
			overall: StatusPartial, summary: "Some tests failed - review failed stages before use",
			stages: []stage{
				{StatusPassed, "Provider is reachable"},
				{StatusFailed, "returned status 401"},
				{StatusSkipped, "Skipped due to authentication failure"},
			},
			check: func(t *testing.T, srv *providertest.Server, res TestResult) {
				require.Contains(t, res.Stages[1].Error, "invalid_client")
				require.Equal(t, AuthOIDCClientCredentials, res.Stages[1].Details["authType"])
				require.Equal(t, 1, srv.TokenRequests())
			},
		},
		{
			name: "oidc user passes", allowPrivate: true,
			setup: func(_ *testing.T, srv *providertest.Server) TestTarget {
				return TestTarget{BaseURL: srv.URL, Auth: tokenAuths(srv)[AuthOIDCUser]}
			},
			overall: StatusPassed, summary: "All tests passed - provider configuration connectivity verified",
			stages: []stage{
				{StatusPassed, "Provider is reachable"},
				{StatusPassed, "Authentication successful"},
				{StatusPassed, "Full request/response cycle completed successfully"},
			},
			check: func(t *testing.T, srv *providertest.Server, _ TestResult) {
				require.Equal(t, 1, srv.TokenRequests(), "the e2e stage reuses the token")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := providertest.New(t)
			target := tt.setup(t, srv)
			res := New(Options{AllowPrivate: tt.allowPrivate}).Test(t.Context(), target)

			require.Equal(t, tt.overall, res.OverallStatus)
			require.Equal(t, tt.summary, res.Summary)
			require.Equal(t, tt.overall == StatusPassed, res.Passed)
			require.False(t, res.StartedAt.After(res.CompletedAt))
			require.Len(t, res.Stages, len(tt.stages))
			for i, want := range tt.stages {
				got := res.Stages[i]
				require.Equal(t, []string{StageConnectivity, StageAuthentication, StageEndToEnd}[i], got.Name)
				require.Equal(t, want.status, got.Status, "stage %s: %+v", got.Name, got)
				if want.status == StatusFailed {
					require.Empty(t, got.Message)
					require.Contains(t, got.Error, want.text)
				} else {
					require.Empty(t, got.Error)
					require.Equal(t, want.text, got.Message)
				}
				if want.status == StatusSkipped && strings.HasPrefix(want.text, "Skipped") {
					require.Zero(t, got.DurationMs)
				}
			}
			if tt.check != nil {
				tt.check(t, srv, res)
			}

			out, err := json.Marshal(res)
			require.NoError(t, err)
			for _, s := range secretValues {
				require.NotContains(t, string(out), s)
			}
			require.NotContains(t, string(out), "passed\":true", "Passed is not serialised")
		})
	}
}
