package httpapi_test

// Compatibility: provider configurations of each catalog provider of the
// reference (Tracer, Midaz) in the shapes reference/flowker-api.md §4.4,
// §6.4 and §8.1 and reference/flowker-engine.md §4.2 document, with the
// routes' status codes and bodies.

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

const pcRoute = "/v1/provider-configurations"

func TestCompatProviderConfigShapes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	auth := `{"issuer_url": "https://idp.example.com/realms/midaz", "client_id": "flowker-client",
		"client_secret": "midaz-secret-5678", "scopes": ["openid", "ledger"]}`
	ledgerIDs := `"organization_id": "` + orgID + `", "ledger_id": "` + ledgerID + `"`
	tests := []struct {
		name, body string
		// masked are config keys whose output is the reference's mask of value.
		masked map[string]string
	}{
		{"tracer", `{"name": "tracer-min", "providerId": "tracer",
			"config": {"base_url": "https://tracer.example.com", "api_key": "tr-key-abcd1234"}}`,
			map[string]string{"api_key": "****1234"}},
		{"tracer with description, metadata and extra keys (additional properties allowed)", `{
			"name": "tracer-full", "providerId": "tracer", "description": "Tracer production",
			"config": {"base_url": "https://tracer.example.com/", "api_key": "tr-key-efgh5678",
				"auth_type": "api_key", "timeout_seconds": 10, "headers": {"X-Tenant": "acme"}},
			"metadata": {"team": "risk", "tier": 1}}`,
			map[string]string{"api_key": "****5678"}},
		{"midaz", `{"name": "midaz-min", "providerId": "midaz", "config": {
			"onboarding_base_url": "https://onboarding.example.com", "transaction_base_url": "https://transaction.example.com",
			` + ledgerIDs + `}}`, nil},
		{"midaz with OIDC auth", `{"name": "midaz-oidc", "providerId": "midaz", "config": {
			"onboarding_base_url": "https://onboarding.example.com", "transaction_base_url": "https://transaction.example.com",
			` + ledgerIDs + `, "auth": ` + auth + `}}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			created := h.expect(h.do("POST", pcRoute, tc.body), http.StatusCreated, "")
			for _, k := range []string{"id", "name", "status", "createdAt"} {
				require.Contains(t, created, k)
			}
			require.Equal(t, "active", created["status"], "new configurations start active")
			id := created["id"].(string)

			got := h.expect(h.do("GET", pcRoute+"/"+id, nil), http.StatusOK, "")
			for _, k := range []string{"id", "name", "providerId", "config", "status", "createdAt", "updatedAt"} {
				require.Contains(t, got, k)
			}
			cfg := got["config"].(map[string]any)
			for k, want := range tc.masked {
				require.Equal(t, want, cfg[k], "%s is masked: **** and its last four characters", k)
			}
			for _, k := range []string{"base_url", "onboarding_base_url", "transaction_base_url", "organization_id", "ledger_id"} {
				if v, ok := cfg[k]; ok {
					require.NotContains(t, v, "****", "%s is not a secret", k)
				}
			}
			if a, ok := cfg["auth"].(map[string]any); ok {
				// The reference masked the whole auth object ("********"); Flowker
				// masks the secret inside it and shows the rest (docs/decisions.md).
				require.Equal(t, "****5678", a["client_secret"])
				require.Equal(t, "flowker-client", a["client_id"])
			}
			list := h.expect(h.do("GET", pcRoute+"?providerId="+got["providerId"].(string)+"&status=active", nil), http.StatusOK, "")
			require.Contains(t, ids(items(t, list)), id)
			require.Contains(t, list, "nextCursor")
			require.Contains(t, list, "hasMore")
		})
	}
}

func TestCompatProviderConfigRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	id := h.createProvider(tracerBody("tracer-routes", fake.URL, "tr-key-abcd1234"))
	path := pcRoute + "/" + id

	// PATCH: any field optional; config replaced wholesale; providerId ignored.
	upd := h.expect(h.do("PATCH", path, `{"description": "edited", "providerId": "midaz"}`), http.StatusOK, "")
	require.Equal(t, "edited", upd["description"])
	require.Equal(t, "tracer", upd["providerId"])
	upd = h.expect(h.do("PATCH", path, `{"config": {"base_url": "`+fake.URL+`", "api_key": "tr-key-new-9999"}}`), http.StatusOK, "")
	require.Equal(t, map[string]any{"base_url": fake.URL, "api_key": "****9999"}, upd["config"])
	upd = h.expect(h.do("PATCH", path, `{"description": null}`), http.StatusOK, "")
	require.Equal(t, "edited", upd["description"], "null means unchanged")

	// Disable / enable, and the wrong-state answers.
	require.Equal(t, "disabled", h.expect(h.do("POST", path+"/disable", nil), http.StatusOK, "")["status"])
	h.expect(h.do("POST", path+"/disable", nil), http.StatusUnprocessableEntity, "FLK-0292")
	require.Equal(t, "active", h.expect(h.do("POST", path+"/enable", nil), http.StatusOK, "")["status"])
	h.expect(h.do("POST", path+"/enable", nil), http.StatusUnprocessableEntity, "FLK-0292")

	// Connectivity test: three stages, in the reference's shape.
	res := h.expect(h.do("POST", path+"/test", nil), http.StatusOK, "")
	for _, k := range []string{"providerConfigId", "providerId", "overallStatus", "durationMs", "stages", "summary", "startedAt", "completedAt"} {
		require.Contains(t, res, k)
	}
	testStages(t, res, "passed", "passed", "passed", "passed")
	require.Equal(t, id, res["providerConfigId"])

	// Errors, each with the reference's status and code.
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		// A reference in the body: 400 (reference: 404), docs/decisions.md "Strict input".
		{"unknown provider", "POST", pcRoute, `{"name": "x", "providerId": "nope", "config": {"a": 1}}`, 400, "FLK-0294"},
		{"duplicate name", "POST", pcRoute, tracerBody("tracer-routes", "https://t.example.com", "key-12345"), 409, "FLK-0291"},
		{"not json", "POST", pcRoute, `{"name":`, 400, "FLK-0001"},
		// The reference answered schema failures 500 (its defect D1); 422 as intended.
		{"schema failure", "POST", pcRoute, `{"name": "x", "providerId": "tracer", "config": {"base_url": "https://t.example.com"}}`,
			422, "FLK-0293"},
		{"bad id", "GET", pcRoute + "/not-a-uuid", nil, 400, "FLK-0002"},
		{"unknown id", "GET", pcRoute + "/7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a", nil, 404, "FLK-0290"},
		{"unknown id, test", "POST", pcRoute + "/7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a/test", nil, 404, "FLK-0290"},
		{"limit out of range", "GET", pcRoute + "?limit=101", nil, 400, "FLK-0304"},
		{"bad status filter", "GET", pcRoute + "?status=gone", nil, 400, "FLK-0304"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			h.expect(h.do(tc.method, tc.path, tc.body), tc.status, tc.code)
		})
	}

	// A base URL that is not http(s) with a host: the reference stored it
	// and its connectivity test answered 422 FLK-0340; Flowker refuses it
	// at save (400 FLK-0263, naming the field: docs/decisions.md, "Strict input").
	m := h.expect(h.do("POST", pcRoute, tracerBody("tracer-urn", "urn:example:tracer", "tr-key-abcd1234")),
		http.StatusBadRequest, "FLK-0263")
	require.Contains(t, m["message"], "config.base_url")

	// Delete from any status: 204 with no body, then 404.
	h.expect(h.do("POST", path+"/disable", nil), http.StatusOK, "")
	del := h.do("DELETE", path, nil)
	require.Equal(t, http.StatusNoContent, del.status)
	require.Empty(t, del.body)
	h.expect(h.do("GET", path, nil), http.StatusNotFound, "FLK-0290")
	h.expect(h.do("DELETE", path, nil), http.StatusNotFound, "FLK-0290")
}
