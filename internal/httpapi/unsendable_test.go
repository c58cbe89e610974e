package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Credentials and headers no request could carry (a CR or LF in a value, a
// space in a name, a ':' in a basic-auth user) were stored — a provider
// configuration active at once — and every call then failed in the
// transport, taken for a passing fault: retried, and counted by the
// breaker every workflow on that configuration shares (found by a defect
// hunt). They are refused when saved, naming the field, never the value;
// nothing is stored.
func TestUnsendableCredentialsAndHeadersAreRefusedAtSave(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	stored := func() int {
		return len(h.expect(h.do("GET", "/v1/provider-configurations", nil), http.StatusOK, "")["items"].([]any))
	}
	for name, cfg := range map[string]map[string]any{
		"header value with CRLF": {"base_url": "https://api.example.com", "headers": map[string]any{"X-Tenant": "acme\r\nX-Injected: 1"}},
		"header name with space": {"base_url": "https://api.example.com", "headers": map[string]any{"X Tenant": "acme"}},
		"bearer token with LF":   {"base_url": "https://api.example.com", "auth": map[string]any{"type": "bearer", "token": "tok-0001\n"}},
		"basic user with colon": {"base_url": "https://api.example.com",
			"auth": map[string]any{"type": "basic", "username": "svc:ops", "password": "pw-0001"}},
	} {
		body := h.expect(h.do("POST", "/v1/provider-configurations", map[string]any{"name": "unsendable " + name,
			"providerId": "http", "config": cfg}), http.StatusUnprocessableEntity, "FLK-0293")
		require.NotContains(t, body["message"], "0001", name)
	}
	require.Zero(t, stored(), "nothing stored")
	pc := h.createProvider(httpProviderBody("https://api.example.com"))
	body := h.expect(h.do("POST", "/v1/workflows", workflowBody([]map[string]any{triggerNode("start"),
		callNodeFor(pc, "call", "/v1/score", map[string]any{"headers": map[string]any{"X-Tenant": "acme\r\nX-Injected: 1"}})},
		[]map[string]any{edge("start", "call")})), http.StatusBadRequest, "WORKFLOW_INVALID_EXECUTOR_CONFIG")
	require.Contains(t, body["message"], `node "call": headers`)
}
