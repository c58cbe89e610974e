package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/config"
)

// Read-only credentials and GET /v1/me (docs/security.md).

const (
	readerKey  = "reader-0123456789abcdef"
	analystKey = "analyst-0123456789abcdef"
	adminKey   = "ops-0123456789abcdef"
)

// keyEnv has three keys: a reader, an analyst with one permission, and ops,
// not listed in API_KEY_PERMISSIONS (every permission).
func keyEnv(extra ...string) map[string]string {
	env := map[string]string{"API_KEY_ENABLED": "true",
		"API_KEYS":            "reader:" + readerKey + ",analyst:" + analystKey + ",ops:" + adminKey,
		"API_KEY_PERMISSIONS": "reader=workflows:read|executions:read|dashboards:read, analyst=executions:read"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func TestReadOnlyAPIKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, keyEnv())
	as := func(key string) []string { return []string{"X-API-Key", key} }
	wf := h.expect(h.do("POST", "/v1/workflows", linear("read-only"), as(adminKey)...), http.StatusCreated, "")
	id := wf["workflowId"].(string)

	// The reader reads workflows and executions…
	for _, path := range []string{"/v1/workflows", "/v1/workflows/" + id, "/v1/executions",
		"/v1/dashboards/executions"} {
		h.expect(h.do("GET", path, nil, as(readerKey)...), http.StatusOK, "")
	}
	// …and changes nothing.
	for _, tc := range []struct{ method, path, perm string }{
		{"POST", "/v1/workflows", "workflows:manage"},
		{"PUT", "/v1/workflows/" + id, "workflows:manage"},
		{"DELETE", "/v1/workflows/" + id, "workflows:manage"},
		{"POST", "/v1/workflows/" + id + "/activate", "workflows:manage"},
		{"POST", "/v1/workflows/" + id + "/executions", "executions:manage"},
		{"POST", "/v1/executions/" + id + "/cancel", "executions:manage"},
		{"GET", "/v1/provider-configurations", "provider-configurations:read"},
		{"GET", "/v1/audit-events", "audit-events:read"},
	} {
		var body any
		if tc.method != "DELETE" {
			body = linear("changed")
		}
		h.expectAuthError(h.do(tc.method, tc.path, body, as(readerKey)...), http.StatusForbidden,
			"missing permission "+tc.perm)
	}
	// The analyst reads executions only; ops, not listed, may do anything.
	h.expect(h.do("GET", "/v1/executions", nil, as(analystKey)...), http.StatusOK, "")
	h.expectAuthError(h.do("GET", "/v1/workflows", nil, as(analystKey)...), http.StatusForbidden,
		"missing permission workflows:read")
	h.expect(h.do("PUT", "/v1/workflows/"+id, linear("renamed"), as(adminKey)...), http.StatusOK, "")
	h.expect(h.do("DELETE", "/v1/workflows/"+id, nil, as(adminKey)...), http.StatusNoContent, "")
}

// A :manage token reads and writes as before the :read permissions existed.
func TestManageTokenReadsAndWrites(t *testing.T) {
	t.Parallel()
	p := newIDP(t, "rsa1")
	h := newHarness(t, p.env())
	tok := bearer(sign(t, testSigners()["rsa1"], "rsa1", p.claims("workflows:manage", "executions:manage")))
	id := h.expect(h.do("POST", "/v1/workflows", linear("manage"), tok...), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("GET", "/v1/workflows/"+id, nil, tok...), http.StatusOK, "")
	h.expect(h.do("PUT", "/v1/workflows/"+id, linear("manage-2"), tok...), http.StatusOK, "")
	h.expect(h.do("GET", "/v1/executions", nil, tok...), http.StatusOK, "")
	h.expect(h.do("DELETE", "/v1/workflows/"+id, nil, tok...), http.StatusNoContent, "")

	// A :read token only reads.
	ro := bearer(sign(t, testSigners()["rsa1"], "rsa1", p.claims("workflows:read")))
	h.expect(h.do("GET", "/v1/workflows", nil, ro...), http.StatusOK, "")
	h.expectAuthError(h.do("POST", "/v1/workflows", linear("nope"), ro...), http.StatusForbidden,
		"missing permission workflows:manage")
}

func TestMe(t *testing.T) {
	t.Parallel()
	me := func(h *harness, headers ...string) map[string]any {
		h.t.Helper()
		return h.expect(h.do("GET", "/v1/me", nil, headers...), http.StatusOK, "")
	}
	all := make([]any, 0, len(allPermissions))
	for _, p := range config.Permissions() {
		all = append(all, p)
	}

	t.Run("api key", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, keyEnv())
		require.Equal(t, map[string]any{"authentication": "api_key",
			"actor":       map[string]any{"type": "api_key", "id": "reader"},
			"permissions": []any{"dashboards:read", "executions:read", "workflows:read"}}, me(h, "X-API-Key", readerKey))
		require.Equal(t, all, me(h, "X-API-Key", adminKey)["permissions"], "a key not listed has every permission")
		h.expect(h.do("GET", "/v1/me", nil), http.StatusUnauthorized, "UNAUTHORIZED")
		h.expect(h.do("GET", "/v1/me", nil, "X-API-Key", "wrong"), http.StatusUnauthorized, "UNAUTHORIZED")
	})

	t.Run("token", func(t *testing.T) {
		t.Parallel()
		p := newIDP(t, "rsa1")
		h := newHarness(t, p.env())
		c := p.claims("workflows:manage", "dashboards:read", "no-such:thing")
		c["scope"] = "openid profile executions:read"
		got := me(h, bearer(sign(t, testSigners()["rsa1"], "rsa1", c))...)
		require.Equal(t, map[string]any{"authentication": "oidc", "actor": map[string]any{"type": "user", "id": "alice"},
			"permissions": []any{"dashboards:read", "executions:read", "workflows:manage", "workflows:read"}}, got,
			"sorted, the implied :read included, names Flowker does not use left out")
		none := me(h, bearer(sign(t, testSigners()["rsa1"], "rsa1", p.claims()))...)
		require.Equal(t, []any{}, none["permissions"], "a token without permissions may still ask")
		h.expectAuthError(h.do("GET", "/v1/me", nil, bearer("not.a.jwt")...), http.StatusUnauthorized,
			"bearer token is malformed")
	})

	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		require.Equal(t, map[string]any{"authentication": "disabled",
			"actor": map[string]any{"type": "anonymous", "id": "anonymous"}, "permissions": all}, me(h))
	})

	t.Run("rate limited", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, keyEnv("RATE_LIMIT_PER_MINUTE", "1"))
		me(h, "X-API-Key", readerKey)
		h.expect(h.do("GET", "/v1/me", nil, "X-API-Key", readerKey), http.StatusTooManyRequests, "FLK-0010")
	})
}
