package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A stored header secret sent back masked while the update declares its
// header safe was restored and then shown in full — in the PATCH answer
// and every later read — to whoever may write the configuration (found
// by a defect hunt). It is refused, and nothing changes.
func TestSafeHeadersDoNotUnmaskAStoredSecret(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const hmac = "hmac-signing-value-SECRET-9876"
	id := h.createProvider(map[string]any{"name": "hmac-partner", "providerId": "http",
		"config": map[string]any{"base_url": "https://partner.example.com", "headers": map[string]any{"X-Hmac": hmac}}})
	before := h.expect(h.do("GET", "/v1/provider-configurations/"+id, nil), http.StatusOK, "")
	masked := before["config"].(map[string]any)["headers"].(map[string]any)["X-Hmac"].(string)
	require.NotContains(t, masked, "SECRET")

	r := h.do("PATCH", "/v1/provider-configurations/"+id, map[string]any{"config": map[string]any{
		"base_url": "https://partner.example.com", "headers": map[string]any{"X-Hmac": masked},
		"safe_headers": []string{"X-Hmac"}}})
	body := h.expect(r, http.StatusBadRequest, "FLK-0001")
	require.Contains(t, body["message"], "config.headers.X-Hmac")
	require.NotContains(t, string(r.body), hmac)
	after := h.expect(h.do("GET", "/v1/provider-configurations/"+id, nil), http.StatusOK, "")
	require.Equal(t, before, after, "nothing changed")
}

// The same through a workflow's http.request node (workflows:manage only).
func TestNodeSafeHeadersDoNotUnmaskAStoredSecret(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	const hmac = "node-hmac-value-SECRET-5432"
	id, read, wf, data := e.secretHeaderWorkflow(t, "X-Hmac", hmac)
	data["safe_headers"] = []any{"X-Hmac"}
	r := e.do("PUT", "/v1/workflows/"+id, map[string]any{"name": wf["name"], "nodes": wf["nodes"], "edges": wf["edges"]})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	require.NotContains(t, string(r.body), hmac)
	require.Equal(t, string(read.body), string(e.do("GET", "/v1/workflows/"+id, nil).body), "nothing changed")
}
