package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

const exPath = "/v1/executors"

// TestExecutorConfigCRUD: create, get, get by name, list, exists, PATCH
// (a full replacement) and delete, with the refusals of each.
func TestExecutorConfigCRUD(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	body := executorBody("fraud-api", "https://fraud.example.com/", "bearer", map[string]any{"token": "bearer-token-0042"})
	r := h.do("POST", exPath, body)
	created := h.expect(r, http.StatusCreated, "")
	id := created["id"].(string)
	path := exPath + "/" + id
	require.Equal(t, path, r.header.Get("Location"))
	require.Equal(t, "unconfigured", created["status"])
	require.Equal(t, "https://fraud.example.com", created["baseUrl"], "one trailing slash dropped")
	require.Equal(t, map[string]any{"type": "bearer", "config": map[string]any{"token": "****0042"}}, created["authentication"])
	require.Equal(t, []any{
		map[string]any{"name": "check", "path": "/v1/check", "method": "POST", "timeout": float64(5)},
		map[string]any{"name": "status", "path": "/v1/status", "method": "GET", "timeout": float64(30)},
	}, created["endpoints"], "methods upper-cased, default timeout 30 s")
	require.EqualValues(t, 1, created["revision"])
	require.NotContains(t, created, "lastTestedAt")
	require.NotContains(t, string(r.body), "bearer-token-0042")

	got := h.expect(h.do("GET", path, nil), http.StatusOK, "")
	require.Equal(t, created, got)

	// Get by name, list, status filter.
	other := h.createExecutor(executorBody("kyc-api", "https://kyc.example.com", "none", nil))
	byName := items(t, h.expect(h.do("GET", exPath+"?name=fraud-api", nil), http.StatusOK, ""))
	require.Len(t, byName, 1)
	require.Equal(t, id, byName[0]["id"])
	require.Empty(t, items(t, h.expect(h.do("GET", exPath+"?name=nobody", nil), http.StatusOK, "")))
	require.Equal(t, []string{"fraud-api", "kyc-api"},
		names(items(t, h.expect(h.do("GET", exPath+"?sortBy=name&sortOrder=ASC", nil), http.StatusOK, ""))))
	h.expect(h.do("POST", exPath+"/"+other+"/configure", nil), http.StatusOK, "")
	require.Equal(t, []string{"kyc-api"}, names(items(t, h.expect(h.do("GET", exPath+"?status=configured", nil), http.StatusOK, ""))))
	require.Equal(t, []string{"fraud-api"}, names(items(t, h.expect(h.do("GET", exPath+"?status=unconfigured", nil), http.StatusOK, ""))))
	require.Empty(t, items(t, h.expect(h.do("GET", exPath+"?status=active", nil), http.StatusOK, "")))
	page := h.expect(h.do("GET", exPath+"?limit=1&sortBy=name&sortOrder=ASC", nil), http.StatusOK, "")
	require.True(t, page["hasMore"].(bool))
	require.NotEmpty(t, page["nextCursor"])
	for q, code := range map[string]string{"?status=paused": "FLK-0304", "?limit=0": "FLK-0304", "?limit=101": "FLK-0304",
		"?sortOrder=up": "FLK-0310", "?cursor=%25%25": "INVALID_CURSOR"} {
		h.expect(h.do("GET", exPath+q, nil), http.StatusBadRequest, code)
	}

	// HEAD: exists by id and by name; 200 or 404, never a body.
	for _, c := range []struct {
		path   string
		status int
	}{
		{path, 200}, {exPath + "/00000000-0000-4000-8000-000000000000", 404}, {exPath + "?name=fraud-api", 200},
		{exPath + "?name=nobody", 404}, {exPath + "?name=FRAUD-API", 404}, {exPath + "/not-a-uuid", 400},
	} {
		r := h.do("HEAD", c.path, nil)
		require.Equal(t, c.status, r.status, c.path)
		require.Empty(t, r.body, c.path)
	}

	// Sending back the masked token keeps it, unless the update sends it to
	// another base URL (found by a defect hunt): then it is sent in full.
	moved := executorBody("fraud-api-v2", "https://fraud2.example.com", "bearer", map[string]any{"token": "****0042"})
	m := h.expect(h.do("PATCH", path, moved), http.StatusBadRequest, "FLK-0001")
	require.Contains(t, m["message"], "authentication.config.token: a masked value was sent while the update changes a URL")
	require.Equal(t, "https://fraud.example.com", h.expect(h.do("GET", path, nil), http.StatusOK, "")["baseUrl"])
	kept := executorBody("fraud-api", "https://fraud.example.com", "bearer", map[string]any{"token": "****0042"})
	h.expect(h.do("PATCH", path, kept), http.StatusOK, "")
	// PATCH replaces everything.
	repl := executorBody("fraud-api-v2", "https://fraud2.example.com", "bearer", map[string]any{"token": "bearer-token-0042"})
	repl["endpoints"] = []map[string]any{{"name": "score", "path": "/score", "method": "put"}}
	repl["metadata"] = map[string]any{"owner": nil, "tier": "gold"}
	upd := h.expect(h.do("PATCH", path, repl), http.StatusOK, "")
	require.Equal(t, "fraud-api-v2", upd["name"])
	require.Equal(t, "https://fraud2.example.com", upd["baseUrl"])
	require.Equal(t, []any{map[string]any{"name": "score", "path": "/score", "method": "PUT", "timeout": float64(30)}}, upd["endpoints"])
	require.Equal(t, map[string]any{"tier": "gold"}, upd["metadata"], "metadata merged, null deletes")
	require.Equal(t, map[string]any{"token": "****0042"}, upd["authentication"].(map[string]any)["config"])
	require.Equal(t, "unconfigured", upd["status"], "an update keeps the status")
	require.EqualValues(t, 3, upd["revision"])

	// PATCH refusals: a mask with nothing behind it, a taken name, bad fields.
	before := h.do("GET", path, nil).body
	wrongMask := executorBody("fraud-api-v2", "https://fraud2.example.com", "bearer", map[string]any{"token": "****9999"})
	h.expect(h.do("PATCH", path, wrongMask), http.StatusBadRequest, "FLK-0001")
	h.expect(h.do("PATCH", path, executorBody("kyc-api", "https://x.example.com", "none", nil)), http.StatusConflict, "FLK-0251")
	h.expect(h.do("PATCH", path, executorBody("", "https://x.example.com", "none", nil)), http.StatusBadRequest, "FLK-0260")
	h.expect(h.do("PATCH", path, executorBody("x", "https://x.example.com", "bearer", nil)), http.StatusBadRequest, "FLK-0266")
	h.expect(h.do("PATCH", path, `{"name":`), http.StatusBadRequest, "FLK-0001")
	h.expect(h.do("PATCH", exPath+"/00000000-0000-4000-8000-000000000000", repl), http.StatusNotFound, "FLK-0250")
	h.expect(h.do("PATCH", exPath+"/nope", `garbage`), http.StatusBadRequest, "FLK-0002")
	require.JSONEq(t, string(before), string(h.do("GET", path, nil).body), "refused PATCHes change nothing")

	// A configured executor may be replaced too.
	h.expect(h.do("POST", path+"/configure", nil), http.StatusOK, "")
	upd = h.expect(h.do("PATCH", path, repl), http.StatusOK, "")
	require.Equal(t, "configured", upd["status"])

	// Duplicate names on create; unknown ids everywhere.
	h.expect(h.do("POST", exPath, executorBody("kyc-api", "https://kyc.example.com", "none", nil)), http.StatusConflict, "FLK-0251")
	unknown := exPath + "/00000000-0000-4000-8000-000000000000"
	for _, c := range []struct{ method, path string }{{"GET", unknown}, {"DELETE", unknown}, {"POST", unknown + "/test"},
		{"POST", unknown + "/configure"}, {"POST", unknown + "/activate"}, {"POST", unknown + "/disable"}, {"POST", unknown + "/enable"}} {
		h.expect(h.do(c.method, c.path, nil), http.StatusNotFound, "FLK-0250")
	}
	for _, p := range []string{exPath + "/nope", exPath + "/nope/test", exPath + "/nope/activate"} {
		method := "POST"
		if p == exPath+"/nope" {
			method = "GET"
		}
		h.expect(h.do(method, p, nil), http.StatusBadRequest, "FLK-0002")
	}

	// Delete in unconfigured and configured; then gone.
	require.Equal(t, http.StatusNoContent, h.do("DELETE", path, nil).status)
	h.expect(h.do("GET", path, nil), http.StatusNotFound, "FLK-0250")
	require.Equal(t, http.StatusNotFound, h.do("HEAD", path, nil).status)
	fresh := h.createExecutor(executorBody("fresh", "https://x.example.com", "none", nil))
	require.Equal(t, http.StatusNoContent, h.do("DELETE", exPath+"/"+fresh, nil).status)
}

// TestExecutorConfigValidation: each bad definition gets its own code and
// nothing is stored.
func TestExecutorConfigValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	with := func(mod func(b map[string]any)) map[string]any {
		b := executorBody("new-one", "https://svc.example.com", "none", nil)
		mod(b)
		return b
	}
	endpoint := func(mod func(ep map[string]any)) map[string]any {
		return with(func(b map[string]any) {
			ep := map[string]any{"name": "a", "path": "/a", "method": "GET"}
			mod(ep)
			b["endpoints"] = []map[string]any{ep}
		})
	}
	auth := func(typ string, cfg map[string]any) map[string]any {
		return with(func(b map[string]any) { b["authentication"] = map[string]any{"type": typ, "config": cfg} })
	}
	many := make([]map[string]any, 51)
	for i := range many {
		many[i] = map[string]any{"name": "ep" + strings.Repeat("x", i), "path": "/p", "method": "GET"}
	}
	tests := []struct {
		name string
		body any
		code string
	}{
		{"malformed", `{"name":`, "FLK-0001"},
		{"endpoints wrong type", `{"name":"x","endpoints":{}}`, "FLK-0001"},
		{"name empty", with(func(b map[string]any) { b["name"] = "  " }), "FLK-0260"},
		{"name too long", with(func(b map[string]any) { b["name"] = strings.Repeat("n", 101) }), "FLK-0261"},
		{"baseUrl missing", with(func(b map[string]any) { delete(b, "baseUrl") }), "FLK-0262"},
		{"baseUrl not http", with(func(b map[string]any) { b["baseUrl"] = "ftp://svc.example.com" }), "FLK-0263"},
		{"baseUrl no host", with(func(b map[string]any) { b["baseUrl"] = "https://" }), "FLK-0263"},
		{"baseUrl with credentials", with(func(b map[string]any) { b["baseUrl"] = "https://u:p@svc.example.com" }), "FLK-0263"},
		{"baseUrl too long", with(func(b map[string]any) { b["baseUrl"] = "https://svc.example.com/" + strings.Repeat("p", 500) }), "FLK-0264"},
		{"no endpoints", with(func(b map[string]any) { b["endpoints"] = []any{} }), "FLK-0265"},
		{"too many endpoints", with(func(b map[string]any) { b["endpoints"] = many }), "FLK-0265"},
		{"description too long", with(func(b map[string]any) { b["description"] = strings.Repeat("d", 501) }), "FLK-0267"},
		{"auth type missing", with(func(b map[string]any) { b["authentication"] = map[string]any{} }), "FLK-0268"},
		{"auth type unknown", auth("kerberos", nil), "FLK-0269"},
		{"endpoint name missing", endpoint(func(ep map[string]any) { delete(ep, "name") }), "FLK-0270"},
		{"endpoint path missing", endpoint(func(ep map[string]any) { delete(ep, "path") }), "FLK-0271"},
		{"endpoint path relative", endpoint(func(ep map[string]any) { ep["path"] = "a" }), "FLK-0271"},
		{"endpoint method missing", endpoint(func(ep map[string]any) { delete(ep, "method") }), "FLK-0272"},
		{"endpoint method unknown", endpoint(func(ep map[string]any) { ep["method"] = "FETCH" }), "FLK-0273"},
		{"duplicate endpoint", with(func(b map[string]any) {
			b["endpoints"] = []map[string]any{{"name": "a", "path": "/a", "method": "GET"}, {"name": "a", "path": "/b", "method": "GET"}}
		}), "FLK-0274"},
		{"timeout negative", endpoint(func(ep map[string]any) { ep["timeout"] = -1 }), "FLK-0275"},
		{"timeout over max", endpoint(func(ep map[string]any) { ep["timeout"] = 301 }), "FLK-0275"},
		{"api_key without key", auth("api_key", map[string]any{"header_name": "X-Key"}), "FLK-0266"},
		{"api_key bad location", auth("api_key", map[string]any{"api_key": "k-123456", "location": "cookie"}), "FLK-0266"},
		{"bearer without token", auth("bearer", nil), "FLK-0266"},
		{"basic without password", auth("basic", map[string]any{"username": "u"}), "FLK-0266"},
		{"oauth2 without token_url", auth("oauth2_client_credentials", map[string]any{"client_id": "c", "client_secret": "s-123456"}), "FLK-0266"},
		{"oauth2 bad token_url", auth("oauth2_client_credentials", map[string]any{"token_url": "ftp://x", "client_id": "c", "client_secret": "s-123456"}), "FLK-0266"},
		{"oidc without issuer", auth("oidc_client_credentials", map[string]any{"client_id": "c", "client_secret": "s-123456"}), "FLK-0266"},
		{"oidc_user without username", auth("oidc_user", map[string]any{"issuer_url": "https://idp.example.com", "client_id": "c", "password": "p-123456"}), "FLK-0266"},
		{"bad metadata", with(func(b map[string]any) { b["metadata"] = map[string]any{strings.Repeat("k", 101): 1} }), "FLK-0312"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			h.expect(h.do("POST", exPath, tc.body), http.StatusBadRequest, tc.code)
		})
	}
	require.Empty(t, items(t, h.expect(h.do("GET", exPath, nil), http.StatusOK, "")), "nothing was stored")
	require.Equal(t, http.StatusNotFound, h.do("HEAD", exPath+"?name=new-one", nil).status)
}

// TestExecutorConfigLifecycle: configure → test → activate → disable →
// enable, every refused transition, and the statuses delete allows.
func TestExecutorConfigLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	fake.RequireBearer("life-token-0001")
	id := h.createExecutor(executorBody("life", fake.URL, "bearer", map[string]any{"token": "life-token-0001"}))
	path := exPath + "/" + id

	// The message names the current status and, for a transition, the
	// status it would lead to; for update and delete, what was asked.
	wanted := map[string]string{"configure": "configured", "activate": "active", "disable": "disabled", "enable": "active"}
	refuse := func(method, suffix, current, action string) {
		t.Helper()
		m := h.expect(h.do(method, path+suffix, maybeBody(method)), http.StatusUnprocessableEntity, "FLK-0252")
		msg := m["message"].(string)
		require.Contains(t, msg, "that is "+current, "the message names the current status")
		require.Contains(t, msg, "cannot "+action)
		if to, ok := wanted[action]; ok {
			require.Contains(t, msg, "it becomes "+to+" only from", "and the wanted one")
		}
	}
	for _, a := range []string{"activate", "disable", "enable"} {
		refuse("POST", "/"+a, "unconfigured", a)
	}

	// A test on an unconfigured executor runs but marks nothing.
	res := h.expect(h.do("POST", path+"/test", nil), http.StatusOK, "")
	require.Equal(t, id, res["executorConfigId"])
	require.Equal(t, "unconfigured", res["status"])
	st := testStages(t, res, "passed", "passed", "passed", "passed")
	require.Equal(t, "bearer", st[1].Details["authType"])
	e2e := fake.Requests()[2]
	require.Equal(t, "POST", e2e.Method, "end to end uses the first endpoint")
	require.Equal(t, "/v1/check", e2e.Path)
	require.Equal(t, "unconfigured", h.expect(h.do("GET", path, nil), http.StatusOK, "")["status"])

	conf := h.expect(h.do("POST", path+"/configure", nil), http.StatusOK, "")
	require.Equal(t, "configured", conf["status"])
	refuse("POST", "/configure", "configured", "configure")
	refuse("POST", "/activate", "configured", "activate")

	// A failing test on a configured executor does not mark it.
	fake.Enqueue("/v1/check", providertest.Response{Status: http.StatusBadGateway})
	res = h.expect(h.do("POST", path+"/test", nil), http.StatusOK, "")
	testStages(t, res, "partial", "passed", "passed", "failed")
	require.Equal(t, "configured", res["status"])
	got := h.expect(h.do("GET", path, nil), http.StatusOK, "")
	require.Equal(t, "configured", got["status"])
	require.NotContains(t, got, "lastTestedAt")

	// A passing one marks it tested, with lastTestedAt.
	res = h.expect(h.do("POST", path+"/test", nil), http.StatusOK, "")
	testStages(t, res, "passed", "passed", "passed", "passed")
	require.Equal(t, "tested", res["status"])
	got = h.expect(h.do("GET", path, nil), http.StatusOK, "")
	require.Equal(t, "tested", got["status"])
	require.NotEmpty(t, got["lastTestedAt"])
	// A tested executor can be tested again; it stays tested.
	require.Equal(t, "tested", h.expect(h.do("POST", path+"/test", nil), http.StatusOK, "")["status"])

	refuse("PATCH", "", "tested", "update")
	refuse("DELETE", "", "tested", "delete")
	refuse("POST", "/configure", "tested", "configure")
	refuse("POST", "/enable", "tested", "enable")
	refuse("POST", "/disable", "tested", "disable")

	require.Equal(t, "active", h.expect(h.do("POST", path+"/activate", nil), http.StatusOK, "")["status"])
	refuse("POST", "/activate", "active", "activate")
	refuse("POST", "/enable", "active", "enable")
	refuse("PATCH", "", "active", "update")
	refuse("DELETE", "", "active", "delete")

	require.Equal(t, "disabled", h.expect(h.do("POST", path+"/disable", nil), http.StatusOK, "")["status"])
	refuse("POST", "/disable", "disabled", "disable")
	refuse("POST", "/activate", "disabled", "activate")
	refuse("PATCH", "", "disabled", "update")
	require.Equal(t, "active", h.expect(h.do("POST", path+"/enable", nil), http.StatusOK, "")["status"])
	h.expect(h.do("POST", path+"/disable", nil), http.StatusOK, "")
	require.Equal(t, http.StatusNoContent, h.do("DELETE", path, nil).status)
	h.expect(h.do("GET", path, nil), http.StatusNotFound, "FLK-0250")

	// A test against a closed port fails at connectivity and marks nothing.
	down := h.createExecutor(executorBody("down", closedPortURL(t), "none", nil))
	h.expect(h.do("POST", exPath+"/"+down+"/configure", nil), http.StatusOK, "")
	res = h.expect(h.do("POST", exPath+"/"+down+"/test", nil), http.StatusOK, "")
	st = testStages(t, res, "failed", "failed", "skipped", "skipped")
	require.Contains(t, st[0].Error, "connection refused")
	require.Equal(t, "configured", res["status"])
}

func maybeBody(method string) any {
	if method == "PATCH" {
		return executorBody("life", "https://x.example.com", "none", nil)
	}
	return nil
}

// TestExecutorConfigConnectivitySSRF: with the default policy a loopback
// base URL fails the connectivity stage, and nothing is marked.
func TestExecutorConfigConnectivitySSRF(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	fake := providertest.New(t)
	id := h.createExecutor(executorBody("local", fake.URL, "bearer", map[string]any{"token": "ssrf-token-1"}))
	h.expect(h.do("POST", exPath+"/"+id+"/configure", nil), http.StatusOK, "")
	res := h.expect(h.do("POST", exPath+"/"+id+"/test", nil), http.StatusOK, "")
	st := testStages(t, res, "failed", "failed", "skipped", "skipped")
	require.Contains(t, st[0].Error, "blocked by SSRF policy")
	require.Equal(t, "configured", res["status"])
	require.Empty(t, fake.Requests())
}

// TestExecutorConfigKeepsMaskedSecret: a PATCH that sends back the masked
// secret keeps the real one; the fake only accepts the original.
func TestExecutorConfigKeepsMaskedSecret(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	fake.RequireBasic("svc-user", "basic-pass-7788")
	id := h.createExecutor(executorBody("basic", fake.URL, "basic",
		map[string]any{"username": "svc-user", "password": "basic-pass-7788"}))
	got := h.expect(h.do("GET", exPath+"/"+id, nil), http.StatusOK, "")
	require.Equal(t, map[string]any{"username": "svc-user", "password": "****7788"}, got["authentication"].(map[string]any)["config"])

	got["description"] = "round-tripped"
	h.expect(h.do("PATCH", exPath+"/"+id, got), http.StatusOK, "")
	testStages(t, h.expect(h.do("POST", exPath+"/"+id+"/test", nil), http.StatusOK, ""), "passed", "passed", "passed", "passed")
}

// TestExecutorConfigAuthTypes: the connectivity test passes against a fake
// for every authentication type, with the credentials where the fake wants them.
func TestExecutorConfigAuthTypes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	tests := []struct {
		name   string
		setup  func(f *providertest.Server) (string, map[string]any)
		noAuth bool
	}{
		{"none", func(*providertest.Server) (string, map[string]any) { return "none", nil }, true},
		{"api_key header", func(f *providertest.Server) (string, map[string]any) {
			f.RequireAPIKey("X-Partner-Key", "hdr-key-1111")
			return "api_key", map[string]any{"api_key": "hdr-key-1111", "header_name": "X-Partner-Key"}
		}, false},
		{"api_key query", func(f *providertest.Server) (string, map[string]any) {
			f.RequireAPIKeyQuery("apikey", "qry-key-2222")
			return "api_key", map[string]any{"api_key": "qry-key-2222", "location": "query", "query_param_name": "apikey"}
		}, false},
		{"api_key by its reference name key", func(f *providertest.Server) (string, map[string]any) {
			f.RequireAPIKey("X-API-Key", "alias-key-2323")
			return "api_key", map[string]any{"key": "alias-key-2323"}
		}, false},
		{"bearer", func(f *providertest.Server) (string, map[string]any) {
			f.RequireBearer("tok-3333")
			return "bearer", map[string]any{"token": "tok-3333"}
		}, false},
		{"basic", func(f *providertest.Server) (string, map[string]any) {
			f.RequireBasic("alice", "pw-4444")
			return "basic", map[string]any{"username": "alice", "password": "pw-4444"}
		}, false},
		{"oauth2 client credentials", func(f *providertest.Server) (string, map[string]any) {
			f.AddClient("cc-client", "cc-secret-5555")
			f.RequireIssuedToken()
			return "oauth2_client_credentials", map[string]any{"token_url": f.TokenURL(), "client_id": "cc-client",
				"client_secret": "cc-secret-5555", "scopes": []string{"read"}}
		}, false},
		{"oidc client credentials", func(f *providertest.Server) (string, map[string]any) {
			f.AddClient("oidc-client", "oidc-secret-6666")
			f.RequireIssuedToken()
			return "oidc_client_credentials", map[string]any{"issuer_url": f.IssuerURL(), "client_id": "oidc-client",
				"client_secret": "oidc-secret-6666", "token_endpoint_auth_method": "client_secret_post"}
		}, false},
		{"oidc user", func(f *providertest.Server) (string, map[string]any) {
			f.AddClient("public-app", "")
			f.AddUser("bob", "user-pw-7777")
			f.RequireIssuedToken()
			return "oidc_user", map[string]any{"issuer_url": f.IssuerURL(), "client_id": "public-app",
				"username": "bob", "password": "user-pw-7777"}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := h.with(t)
			fake := providertest.New(t)
			typ, cfg := tc.setup(fake)
			id := h.createExecutor(executorBody("auth-"+strings.ReplaceAll(tc.name, " ", "-"), fake.URL, typ, cfg))
			h.expect(h.do("POST", exPath+"/"+id+"/configure", nil), http.StatusOK, "")
			res := h.expect(h.do("POST", exPath+"/"+id+"/test", nil), http.StatusOK, "")
			authStatus := "passed"
			if tc.noAuth {
				authStatus = "skipped"
			}
			st := testStages(t, res, "passed", "passed", authStatus, "passed")
			require.Equal(t, "tested", res["status"])
			if !tc.noAuth {
				require.Equal(t, typ, st[1].Details["authType"])
				require.Equal(t, "Authentication successful", st[1].Message)
			}
			shown := h.expect(h.do("GET", exPath+"/"+id, nil), http.StatusOK, "")["authentication"].(map[string]any)
			for k, v := range cfg {
				switch k {
				case "api_key", "key", "token", "password", "client_secret":
					require.Equal(t, mask(v.(string)), shown["config"].(map[string]any)[k], k)
				}
			}
		})
	}
}
