package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

const pcPath = "/v1/provider-configurations"

// TestProviderConfigCRUD walks create, get (masked), PATCH, enable/disable
// and delete through HTTP with every status and code on the way.
func TestProviderConfigCRUD(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	// Create: 201, the create body, a Location.
	r := h.do("POST", pcPath, tracerBody("tracer-prod", "https://tracer.example.com", "tr-key-abcd1234"))
	created := h.expect(r, http.StatusCreated, "")
	id := created["id"].(string)
	require.Equal(t, pcPath+"/"+id, r.header.Get("Location"))
	require.Equal(t, "tracer-prod", created["name"])
	require.Equal(t, "tracer", created["providerId"])
	require.Equal(t, "active", created["status"])
	require.EqualValues(t, 1, created["revision"])
	require.NotEmpty(t, created["createdAt"])
	path := pcPath + "/" + id

	// Get: the secret masked as "****" + its last four, everything else intact.
	got := h.expect(h.do("GET", path, nil), http.StatusOK, "")
	require.Equal(t, id, got["id"])
	require.Equal(t, "tracer tracer-prod", got["description"])
	require.Equal(t, map[string]any{"base_url": "https://tracer.example.com", "api_key": "****1234"}, got["config"])
	require.Equal(t, map[string]any{"team": "risk"}, got["metadata"])
	require.Equal(t, created["createdAt"], got["createdAt"])
	require.NotContains(t, string(h.do("GET", path, nil).body), "tr-key-abcd1234")

	// Nested secrets are masked too (midaz auth.client_secret); the client id is not a secret.
	mid := h.createProvider(midazBody("midaz-prod", "https://midaz.example.com",
		map[string]any{"issuer_url": "https://idp.example.com", "client_id": "flowker", "client_secret": "mz-secret-9876"}))
	mcfg := h.expect(h.do("GET", pcPath+"/"+mid, nil), http.StatusOK, "")["config"].(map[string]any)
	require.Equal(t, map[string]any{"issuer_url": "https://idp.example.com", "client_id": "flowker",
		"client_secret": "****9876"}, mcfg["auth"])
	require.Equal(t, orgID, mcfg["organization_id"])

	// PATCH name and description; metadata merges and null deletes a key.
	upd := h.expect(h.do("PATCH", path, map[string]any{"name": "tracer-main", "description": "main tracer",
		"metadata": map[string]any{"team": nil, "tier": "gold"}}), http.StatusOK, "")
	require.Equal(t, "tracer-main", upd["name"])
	require.Equal(t, "main tracer", upd["description"])
	require.Equal(t, map[string]any{"tier": "gold"}, upd["metadata"])
	require.EqualValues(t, 2, upd["revision"])
	require.Equal(t, "****1234", upd["config"].(map[string]any)["api_key"])
	// description null or absent: unchanged; "" clears it.
	upd = h.expect(h.do("PATCH", path, `{"description":null}`), http.StatusOK, "")
	require.Equal(t, "main tracer", upd["description"])
	upd = h.expect(h.do("PATCH", path, map[string]any{"description": ""}), http.StatusOK, "")
	require.NotContains(t, upd, "description")

	// providerId cannot change: it is ignored.
	upd = h.expect(h.do("PATCH", path, map[string]any{"providerId": "midaz"}), http.StatusOK, "")
	require.Equal(t, "tracer", upd["providerId"])

	// Config is replaced as a whole, and a new secret shows its own mask.
	upd = h.expect(h.do("PATCH", path, map[string]any{"config": map[string]any{
		"base_url": "https://tracer2.example.com", "api_key": "tr-key-new-5678", "timeout_seconds": 10}}), http.StatusOK, "")
	require.Equal(t, map[string]any{"base_url": "https://tracer2.example.com", "api_key": "****5678",
		"timeout_seconds": float64(10)}, upd["config"])
	upd = h.expect(h.do("PATCH", path, map[string]any{"config": map[string]any{
		"base_url": "https://tracer2.example.com", "api_key": "****5678"}}), http.StatusOK, "")
	require.Equal(t, map[string]any{"base_url": "https://tracer2.example.com", "api_key": "****5678"}, upd["config"])
	// Sent back masked, a secret is not kept for another URL: whoever may
	// write the configuration but not read the key would have it sent to
	// a host of their choosing (found by a defect hunt). Sent in full, it may.
	m := h.expect(h.do("PATCH", path, map[string]any{"config": map[string]any{
		"base_url": "https://tracer3.example.com", "api_key": "****5678"}}), http.StatusBadRequest, "FLK-0001")
	require.Contains(t, m["message"], "config.api_key: a masked value was sent while the update changes a URL")
	upd = h.expect(h.do("PATCH", path, map[string]any{"config": map[string]any{
		"base_url": "https://tracer3.example.com", "api_key": "tr-key-new-5678"}}), http.StatusOK, "")
	require.Equal(t, map[string]any{"base_url": "https://tracer3.example.com", "api_key": "****5678"}, upd["config"])

	// A mask that matches no stored secret is refused, and nothing changes.
	before := h.do("GET", path, nil).body
	h.expect(h.do("PATCH", path, map[string]any{"config": map[string]any{
		"base_url": "https://tracer3.example.com", "api_key": "****zzzz"}}), http.StatusBadRequest, "FLK-0001")
	h.expect(h.do("PATCH", pcPath+"/"+mid, map[string]any{"config": map[string]any{
		"onboarding_base_url": "https://m.example.com", "transaction_base_url": "https://m.example.com",
		"organization_id": orgID, "ledger_id": ledgerID,
		"auth": map[string]any{"issuer_url": "https://idp.example.com", "client_id": "x", "client_secret": "****0000"}}}),
		http.StatusBadRequest, "FLK-0001")
	// Schema failures on PATCH are 422 with the path, never a 500.
	m = h.expect(h.do("PATCH", path, map[string]any{"config": map[string]any{"base_url": "nope", "api_key": "k-123456"}}),
		http.StatusUnprocessableEntity, "FLK-0293")
	require.Contains(t, m["message"], "/base_url")
	h.expect(h.do("PATCH", path, map[string]any{"name": ""}), http.StatusBadRequest, "FLK-0295")
	h.expect(h.do("PATCH", path, map[string]any{"name": strings.Repeat("n", 101)}), http.StatusBadRequest, "FLK-0296")
	h.expect(h.do("PATCH", path, map[string]any{"description": strings.Repeat("d", 501)}), http.StatusBadRequest, "FLK-0299")
	h.expect(h.do("PATCH", path, map[string]any{"name": "midaz-prod"}), http.StatusConflict, "FLK-0291")
	h.expect(h.do("PATCH", path, `{"name":`), http.StatusBadRequest, "FLK-0001")
	require.JSONEq(t, string(before), string(h.do("GET", path, nil).body), "refused PATCHes change nothing")

	// Disable and enable, each only from the other state.
	dis := h.expect(h.do("POST", path+"/disable", nil), http.StatusOK, "")
	require.Equal(t, "disabled", dis["status"])
	m = h.expect(h.do("POST", path+"/disable", nil), http.StatusUnprocessableEntity, "FLK-0292")
	require.Contains(t, m["message"], "disabled")
	// PATCH is allowed in any status.
	require.Equal(t, "x", h.expect(h.do("PATCH", path, map[string]any{"description": "x"}), http.StatusOK, "")["description"])
	require.Equal(t, "active", h.expect(h.do("POST", path+"/enable", nil), http.StatusOK, "")["status"])
	h.expect(h.do("POST", path+"/enable", nil), http.StatusUnprocessableEntity, "FLK-0292")

	// Delete, then it is gone everywhere.
	require.Equal(t, http.StatusNoContent, h.do("DELETE", path, nil).status)
	for _, c := range []struct{ method, path string }{
		{"GET", path}, {"DELETE", path}, {"POST", path + "/enable"}, {"POST", path + "/disable"}, {"POST", path + "/test"},
	} {
		h.expect(h.do(c.method, c.path, nil), http.StatusNotFound, "FLK-0290")
	}
	h.expect(h.do("PATCH", path, map[string]any{"name": "z"}), http.StatusNotFound, "FLK-0290")
	// Its name is free again.
	h.createProvider(tracerBody("tracer-main", "https://tracer.example.com", "tr-key-abcd1234"))
}

// TestProviderConfigRefusals: every bad create and bad id gets its code.
func TestProviderConfigRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.createProvider(tracerBody("taken", "https://tracer.example.com", "key-12345"))
	before := h.do("GET", pcPath, nil).body

	with := func(mod func(b map[string]any)) map[string]any {
		b := tracerBody("new-one", "https://tracer.example.com", "key-12345")
		mod(b)
		return b
	}
	cfg := func(b map[string]any) map[string]any { return b["config"].(map[string]any) }
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code, inMessage    string
	}{
		{"malformed body", "POST", pcPath, `{"name":`, 400, "FLK-0001", ""},
		{"config wrong type", "POST", pcPath, `{"name":"x","providerId":"tracer","config":[]}`, 400, "FLK-0001", ""},
		{"unknown provider", "POST", pcPath, with(func(b map[string]any) { b["providerId"] = "stripe" }), 400, "FLK-0294", "stripe"},
		{"no provider", "POST", pcPath, with(func(b map[string]any) { delete(b, "providerId") }), 400, "FLK-0297", "providerId"},
		{"name empty", "POST", pcPath, with(func(b map[string]any) { b["name"] = " " }), 400, "FLK-0295", ""},
		{"name too long", "POST", pcPath, with(func(b map[string]any) { b["name"] = strings.Repeat("n", 101) }), 400, "FLK-0296", ""},
		{"description too long", "POST", pcPath, with(func(b map[string]any) { b["description"] = strings.Repeat("d", 501) }), 400, "FLK-0299", ""},
		{"config empty", "POST", pcPath, with(func(b map[string]any) { b["config"] = map[string]any{} }), 400, "FLK-0298", ""},
		{"missing api_key", "POST", pcPath, with(func(b map[string]any) { delete(cfg(b), "api_key") }), 422, "FLK-0293", "api_key"},
		{"base_url not a uri", "POST", pcPath, with(func(b map[string]any) { cfg(b)["base_url"] = "not a url" }), 422, "FLK-0293", "/base_url"},
		{"timeout out of range", "POST", pcPath, with(func(b map[string]any) { cfg(b)["timeout_seconds"] = 0 }), 422, "FLK-0293", "/timeout_seconds"},
		{"midaz organization_id not a uuid", "POST", pcPath, func() any {
			b := midazBody("m", "https://midaz.example.com", nil)
			b["config"].(map[string]any)["organization_id"] = "org-1"
			return b
		}(), 422, "FLK-0293", "/organization_id"},
		{"midaz auth without secret", "POST", pcPath, midazBody("m", "https://midaz.example.com",
			map[string]any{"issuer_url": "https://idp.example.com", "client_id": "c"}), 422, "FLK-0293", "client_secret"},
		{"duplicate name", "POST", pcPath, tracerBody("taken", "https://t.example.com", "key-99999"), 409, "FLK-0291", ""},
		{"bad metadata key", "POST", pcPath, with(func(b map[string]any) { b["metadata"] = map[string]any{"": 1} }), 400, "FLK-0312", ""},
		{"get bad uuid", "GET", pcPath + "/nope", nil, 400, "FLK-0002", ""},
		{"patch bad uuid before body", "PATCH", pcPath + "/nope", `garbage`, 400, "FLK-0002", ""},
		{"delete bad uuid", "DELETE", pcPath + "/nope", nil, 400, "FLK-0002", ""},
		{"enable bad uuid", "POST", pcPath + "/nope/enable", nil, 400, "FLK-0002", ""},
		{"test bad uuid", "POST", pcPath + "/nope/test", nil, 400, "FLK-0002", ""},
		{"get unknown", "GET", pcPath + "/00000000-0000-4000-8000-000000000000", nil, 404, "FLK-0290", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			m := h.expect(h.do(tc.method, tc.path, tc.body), tc.status, tc.code)
			require.Contains(t, m["message"], tc.inMessage)
		})
	}
	require.JSONEq(t, string(before), string(h.do("GET", pcPath, nil).body), "refusals change nothing")
}

func TestProviderConfigList(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for i := range 5 {
		h.createProvider(tracerBody(fmt.Sprintf("tracer-%d", i), "https://tracer.example.com", "key-0000"+fmt.Sprint(i)))
	}
	mid := h.createProvider(midazBody("midaz-a", "https://midaz.example.com", nil))
	h.expect(h.do("POST", pcPath+"/"+mid+"/disable", nil), http.StatusOK, "")

	// Paging by name with the cursor.
	var got []string
	q := pcPath + "?limit=2&sortBy=name&sortOrder=ASC"
	for pages := 1; ; pages++ {
		require.LessOrEqual(t, pages, 3)
		page := h.expect(h.do("GET", q, nil), http.StatusOK, "")
		got = append(got, names(items(t, page))...)
		if !page["hasMore"].(bool) {
			require.Empty(t, page["nextCursor"])
			break
		}
		q = pcPath + "?limit=2&cursor=" + url.QueryEscape(page["nextCursor"].(string))
	}
	require.Equal(t, []string{"midaz-a", "tracer-0", "tracer-1", "tracer-2", "tracer-3", "tracer-4"}, got)

	// Every listed config is masked.
	all := items(t, h.expect(h.do("GET", pcPath+"?providerId=tracer&limit=100", nil), http.StatusOK, ""))
	require.Len(t, all, 5)
	for _, it := range all {
		require.True(t, strings.HasPrefix(it["config"].(map[string]any)["api_key"].(string), "****"), "%v", it)
	}
	// Default order: newest first.
	require.Equal(t, []string{"midaz-a"}, names(items(t, h.expect(h.do("GET", pcPath+"?limit=1", nil), http.StatusOK, ""))))

	filters := map[string][]string{
		"?status=disabled":                {"midaz-a"},
		"?status=active&providerId=midaz": {},
		"?providerId=midaz":               {"midaz-a"},
		"?name=tracer-3":                  {"tracer-3"},
		"?name=TRACER-3":                  {},
		"?providerId=tracer&sortBy=name&sortOrder=desc&limit=2": {"tracer-4", "tracer-3"},
	}
	for q, want := range filters {
		require.Equal(t, want, names(items(t, h.expect(h.do("GET", pcPath+q, nil), http.StatusOK, ""))), q)
	}

	for q, code := range map[string]string{
		"?limit=0": "FLK-0304", "?limit=101": "FLK-0304", "?limit=x": "FLK-0304",
		"?status=unconfigured": "FLK-0304", "?status=paused": "FLK-0304", "?sortBy=color": "FLK-0304",
		"?sortOrder=up": "FLK-0310", "?cursor=%25%25": "INVALID_CURSOR",
	} {
		h.expect(h.do("GET", pcPath+q, nil), http.StatusBadRequest, code)
	}
}

// TestProviderConfigConnectivity runs POST /test against a local fake.
func TestProviderConfigConnectivity(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	fake.RequireAPIKey("X-API-Key", "tr-live-key-4242")
	fake.Respond("/", providertest.Response{Body: `{"service":"tracer"}`})

	id := h.createProvider(tracerBody("tracer", fake.URL+"/", "tr-live-key-4242"))
	path := pcPath + "/" + id
	res := h.expect(h.do("POST", path+"/test", nil), http.StatusOK, "")
	require.Equal(t, id, res["providerConfigId"])
	require.Equal(t, "tracer", res["providerId"])
	require.NotContains(t, res, "executorConfigId")
	st := testStages(t, res, "passed", "passed", "passed", "passed")
	require.Equal(t, "Provider is reachable", st[0].Message)
	require.EqualValues(t, http.StatusUnauthorized, st[0].Details["statusCode"], "connectivity is unauthenticated")
	require.Equal(t, "Authentication successful", st[1].Message)
	reqs := fake.Requests()
	require.Len(t, reqs, 3)
	require.Empty(t, reqs[0].Header.Get("X-API-Key"))
	require.Equal(t, "tr-live-key-4242", reqs[1].Header.Get("X-API-Key"), "the same header the engine sends")
	require.NotContains(t, string(h.do("POST", path+"/test", nil).body), "tr-live-key-4242")

	// Sending back the masked config keeps the stored key: the test still passes.
	masked := h.expect(h.do("GET", path, nil), http.StatusOK, "")["config"]
	h.expect(h.do("PATCH", path, map[string]any{"config": masked}), http.StatusOK, "")
	testStages(t, h.expect(h.do("POST", path+"/test", nil), http.StatusOK, ""), "passed", "passed", "passed", "passed")

	// A wrong key: reachable, but authentication fails and end to end is skipped.
	h.expect(h.do("PATCH", path, map[string]any{"config": map[string]any{"base_url": fake.URL, "api_key": "wrong-key-0000"}}),
		http.StatusOK, "")
	st = testStages(t, h.expect(h.do("POST", path+"/test", nil), http.StatusOK, ""), "partial", "passed", "failed", "skipped")
	require.Contains(t, st[1].Error, "401")
	require.Equal(t, "Skipped due to authentication failure", st[2].Message)

	// A disabled configuration can still be tested; nothing changes.
	h.expect(h.do("POST", path+"/disable", nil), http.StatusOK, "")
	testStages(t, h.expect(h.do("POST", path+"/test", nil), http.StatusOK, ""), "partial", "passed", "failed", "skipped")
	require.Equal(t, "disabled", h.expect(h.do("GET", path, nil), http.StatusOK, "")["status"])

	// The same config pointed at a closed port fails at connectivity.
	h.expect(h.do("PATCH", path, map[string]any{"config": map[string]any{
		"base_url": closedPortURL(t), "api_key": "wrong-key-0000"}}), http.StatusOK, "")
	st = testStages(t, h.expect(h.do("POST", path+"/test", nil), http.StatusOK, ""), "failed", "failed", "skipped", "skipped")
	require.Contains(t, st[0].Error, "connection refused")
	require.Equal(t, "Skipped due to connectivity failure", st[1].Message)

	// The generic http provider authenticates with its auth block and sends its headers.
	basic := providertest.New(t)
	basic.RequireBasic("svc", "http-pass-5150")
	hp := h.createProvider(map[string]any{"name": "generic", "providerId": "http", "config": map[string]any{
		"base_url": basic.URL, "headers": map[string]any{"X-Tenant": "t1"},
		"auth": map[string]any{"type": "basic", "username": "svc", "password": "http-pass-5150"}}})
	st = testStages(t, h.expect(h.do("POST", pcPath+"/"+hp+"/test", nil), http.StatusOK, ""), "passed", "passed", "passed", "passed")
	require.Equal(t, "basic", st[1].Details["authType"])
	require.Equal(t, "t1", basic.Requests()[1].Header.Get("X-Tenant"))

	// HTTPS certificates are still verified with the SSRF check at connect
	// time: a self-signed provider fails connectivity.
	tlsFake := providertest.NewTLS(t)
	tp := h.createProvider(tracerBody("tls", tlsFake.LocalhostURL(), "tls-key-1234"))
	st = testStages(t, h.expect(h.do("POST", pcPath+"/"+tp+"/test", nil), http.StatusOK, ""), "failed", "failed", "skipped", "skipped")
	require.Contains(t, st[0].Error, "certificate")

	// A base URL with no host passes the uri format but is refused at save
	// (it could never be called, nor tested: the reference's 422 FLK-0340).
	m := h.expect(h.do("POST", pcPath, map[string]any{"name": "no-host", "providerId": "http",
		"config": map[string]any{"base_url": "urn:example:service"}}), http.StatusBadRequest, "FLK-0263")
	require.Contains(t, m["message"], "config.base_url")
}

// TestProviderConfigConnectivitySSRF: with the default policy a loopback
// fake is refused at connect time: 422 FLK-0341, as the reference answers
// (a compatibility hunt found a 200 with a failed stage).
func TestProviderConfigConnectivitySSRF(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	fake := providertest.New(t)
	id := h.createProvider(tracerBody("tracer", fake.URL, "tr-key-1234"))
	// The reference's answer (flowker-api.md #23): 422, not a test result.
	body := h.expect(h.do("POST", pcPath+"/"+id+"/test", nil), http.StatusUnprocessableEntity, "FLK-0341")
	require.Equal(t, "provider configuration base_url targets a restricted destination", body["message"])
	require.Empty(t, fake.Requests(), "nothing reached the fake")
}

// TestProviderConfigConnectivityMidazOIDC: midaz with an auth block gets a
// token from the issuer (discovery, client credentials) and uses it.
func TestProviderConfigConnectivityMidazOIDC(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	fake.AddClient("flowker", "mz-client-secret-77")
	fake.RequireIssuedToken()

	auth := map[string]any{"issuer_url": fake.IssuerURL(), "client_id": "flowker", "client_secret": "mz-client-secret-77"}
	id := h.createProvider(midazBody("midaz", fake.URL, auth))
	st := testStages(t, h.expect(h.do("POST", pcPath+"/"+id+"/test", nil), http.StatusOK, ""),
		"passed", "passed", "passed", "passed")
	require.Equal(t, "oidc_client_credentials", st[1].Details["authType"])
	require.Equal(t, 1, fake.TokenRequests(), "one token serves both authenticated stages")
	require.NotEmpty(t, fake.RequestsTo(providertest.DiscoveryPath))

	auth["client_secret"] = "wrong-secret-00"
	bad := h.createProvider(midazBody("midaz-bad", fake.URL, auth))
	st = testStages(t, h.expect(h.do("POST", pcPath+"/"+bad+"/test", nil), http.StatusOK, ""),
		"partial", "passed", "failed", "skipped")
	require.NotContains(t, st[1].Error, "wrong-secret-00")
}
