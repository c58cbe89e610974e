package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// Security review of the read/manage split, review groups and callbacks
// (docs/security.md).

// A provider that echoes the callback URL it was handed (many answer
// {"callbackUrl": …} to confirm the registration) puts the token in the
// call's output. The token is a credential — whoever holds it can deliver
// the callback, which otherwise needs executions:manage (signals) — so no
// API response shows it: not the step's output, not the final output, not
// the context of a review, to a caller who may only read.
func TestCallbackTokenEchoedByProviderNotInResponses(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, []string{"viewer"}, "viewer=executions:read|reviews:read")
	e.fake.HandleFunc("/kyc", func(req providertest.Request) providertest.Response {
		var body map[string]any
		_ = json.Unmarshal(req.Body, &body)
		return okJSON(map[string]any{"registered": true, "callbackUrl": body["callbackUrl"],
			"note": "we will call " + body["callbackUrl"].(string) + " when done"})
	})
	nodes, edges := e.callbackFlow(nil)
	// The echoed URL flows on: into a review's context (reviews:read sees it).
	nodes[len(nodes)-1] = reviewNode("done", map[string]any{"context": []map[string]any{
		{"source": "kyc.body.callbackUrl", "target": "registeredAt"}}})
	nodes = append(nodes, outputNode("out", map[string]any{"ok": true}))
	edges = append(edges, edge("done", "out", "approve"))
	id := e.startAsync(e.activate(nodes, edges), nil)
	path := callbackPath(t, e.waitCalls("/kyc", 1)[0], "callbackUrl")
	token := strings.TrimPrefix(path, "/v1/callbacks/")
	e.awaitStatus(id, "waiting")

	viewer := e.as("viewer")
	res := viewer.expect(viewer.do("GET", "/v1/executions/"+id+"/results", nil), http.StatusOK, "")
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	require.NotContains(t, string(raw), token, "a reader sees the callback token in the results")
	out := step(t, res, "kyc")["output"].(map[string]any)["body"].(map[string]any)
	require.Equal(t, "http://localhost:4021/v1/callbacks/REDACTED", out["callbackUrl"])
	require.Equal(t, "we will call http://localhost:4021/v1/callbacks/REDACTED when done", out["note"])
	require.Equal(t, true, out["registered"], "the rest of the output is kept")

	// The provider calls back; the review that follows shows its context
	// without the token either.
	e.expect(e.callBack(path, map[string]any{"verdict": "clear"}), http.StatusAccepted, "")
	rev := e.openReview(id)
	require.Equal(t, map[string]any{"registeredAt": "http://localhost:4021/v1/callbacks/REDACTED"}, rev["context"])
	for _, p := range []string{"/v1/reviews/" + rev["id"].(string), "/v1/reviews?executionId=" + url.QueryEscape(id),
		"/v1/executions/" + id + "/results"} {
		r := viewer.do("GET", p, nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.NotContains(t, string(r.body), token, p)
	}
	e.expect(e.decide(rev["id"].(string), "approve"), http.StatusCreated, "")
	e.await(id, "completed")
	r := viewer.do("GET", "/v1/executions/"+id+"/results", nil)
	require.NotContains(t, string(r.body), token)
}

// Callbacks carry no credential but are rate-limited per client IP like
// the other /v1 routes: guessing tokens is throttled, and a caller's
// valid API key elsewhere has a budget of its own.
func TestCallbacksAreRateLimited(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"RATE_LIMIT_PER_MINUTE": "3", "API_KEY_ENABLED": "true",
		"API_KEYS": "a:aaaaaaaaaaaaaaaa"})
	forged := "/v1/callbacks/" + strings.Repeat("A", 48)
	for range 3 {
		h.expect(h.do("POST", forged, map[string]any{}), http.StatusNotFound, "FLK-0524")
	}
	h.expect(h.do("POST", forged, map[string]any{}), http.StatusTooManyRequests, "FLK-0010")
	h.expect(h.do("POST", "/V1/Callbacks/"+strings.Repeat("B", 48)+"/", map[string]any{}), http.StatusTooManyRequests,
		"FLK-0010")
	h.expect(h.do("GET", "/v1/workflows", nil, "X-API-Key", "aaaaaaaaaaaaaaaa"), http.StatusOK, "")
}

// The read/manage split is decided when a route is registered, from its
// method: a variant of the path (case, trailing slash) reaches the same
// route and its one check, HEAD is a read, and methods no route takes are
// 405 whatever the credential.
func TestMethodAndPathVariantsKeepTheirPermission(t *testing.T) {
	t.Parallel()
	h := newHarness(t, keyEnv())
	reader := []string{"X-API-Key", readerKey}   // workflows, executions, dashboards: read
	analyst := []string{"X-API-Key", analystKey} // executions:read only
	for _, tc := range []struct {
		method, path string
		as           []string
		perm         string
	}{
		{"POST", "/V1/WORKFLOWS", reader, "workflows:manage"},
		{"POST", "/v1/workflows/", reader, "workflows:manage"},
		{"POST", "/v1/Workflows/" + strings.Repeat("0", 8) + "-0000-0000-0000-000000000000/Executions/", reader,
			"executions:manage"},
		{"POST", "/v1/executions/" + strings.Repeat("0", 8) + "-0000-0000-0000-000000000000/signals/x", reader,
			"executions:manage"},
		{"HEAD", "/v1/workflows", analyst, "workflows:read"},
		{"HEAD", "/v1/executors", reader, "executor-configurations:read"},
		{"POST", "/v1/reviews/" + strings.Repeat("0", 8) + "-0000-0000-0000-000000000000/decisions", reader,
			"reviews:decide"},
		{"GET", "/V1/REVIEWS", reader, "reviews:read"},
	} {
		r := h.do(tc.method, tc.path, map[string]any{}, tc.as...)
		require.Equal(t, http.StatusForbidden, r.status, "%s %s: %s", tc.method, tc.path, r.body)
		if tc.method != "HEAD" {
			require.Contains(t, string(r.body), "missing permission "+tc.perm, "%s %s", tc.method, tc.path)
		}
	}
	for _, m := range []string{"OPTIONS", "TRACE", "PATCH", "PUT"} {
		r := h.do(m, "/v1/workflows", nil, reader...)
		require.Equal(t, http.StatusMethodNotAllowed, r.status, "%s: %s", m, r.body)
		require.NotContains(t, string(r.body), "items")
	}
}

// Permissions in a token are taken as exact strings: list entries that are
// not strings, entries with spaces, an empty group, other cases and "*"
// grant nothing; GET /v1/me shows the caller and its own permissions only.
func TestTokenPermissionClaimOddShapes(t *testing.T) {
	t.Parallel()
	p := newIDP(t, "rsa1")
	h := newHarness(t, p.env())
	c := p.claims()
	c["permissions"] = []any{"reviews:decide", []any{"workflows:manage"}, map[string]any{"executions:manage": true}, 5.0,
		true, nil, "reviews:decide:", " executions:read", "audit-events:read dashboards:read", "Reviews:Decide:ops",
		"REVIEWS:DECIDE:*", "*", "reviews:decide:a b", "reviews:decide:ops\n"}
	c["scope"] = "openid\tcatalog:read  reviews:decide:kyc"
	c["name"], c["email"] = "Alice", "alice@example.com"
	got := h.expect(h.do("GET", "/v1/me", nil, bearer(sign(t, testSigners()["rsa1"], "rsa1", c))...), http.StatusOK, "")
	require.Equal(t, map[string]any{"authentication": "oidc", "actor": map[string]any{"type": "user", "id": "alice"},
		"permissions": []any{"catalog:read", "reviews:decide", "reviews:decide:kyc", "reviews:read"}}, got)

	c["permissions"] = map[string]any{"workflows:manage": true}
	c["scope"] = []any{"workflows:manage"} // scope is a string claim: a list is read as one too
	got = h.expect(h.do("GET", "/v1/me", nil, bearer(sign(t, testSigners()["rsa1"], "rsa1", c))...), http.StatusOK, "")
	require.Equal(t, []any{"workflows:manage", "workflows:read"}, got["permissions"])
}

// Four-eyes counts identities: a token subject is one identity however
// many tokens it holds (a second approval by it is 409 FLK-0522, and the
// review stays open), as an API key id is (TestReviewFourEyes). An API key
// and a token are two identities even when the key's id and the token's
// subject read the same: one person holding two credentials is beyond
// what Flowker can see (docs/security.md).
func TestFourEyesCountsATokenSubjectOnce(t *testing.T) {
	t.Parallel()
	p := newIDP(t, "rsa1")
	env := p.env("SSRF_ALLOW_PRIVATE", "true", "API_KEY_ENABLED", "true",
		"API_KEYS", "ops:"+keyOf("ops")+",alice:"+keyOf("alice"))
	h := newHarness(t, env)
	h.headers = []string{"X-API-Key", keyOf("ops")}
	fake := providertest.New(t)
	e := &flowEnv{harness: h, fake: fake, pc: h.createProvider(httpProviderBody(fake.URL))}
	wf := e.activate(e.reviewFlow(map[string]any{"requiredApprovals": 2, "group": "payments"}))
	id := e.startAsync(wf, nil)
	rid := e.openReview(id)["id"].(string)

	token := func(perms ...string) *harness {
		c := *h
		c.headers = bearer(sign(t, testSigners()["rsa1"], "rsa1", p.claims(perms...)))
		return &c
	}
	first := token("reviews:decide", "reviews:decide:payments")
	e.expect(first.decide(rid, "approve"), http.StatusCreated, "")
	again := token("reviews:decide", "reviews:decide:*", "workflows:read") // a new token, same subject
	e.expect(again.decide(rid, "approve"), http.StatusConflict, "FLK-0522")
	require.Equal(t, "open", e.expect(e.do("GET", "/v1/reviews/"+rid, nil), http.StatusOK, "")["status"])

	// Group permissions are exact: another case, or reviews:decide:*
	// without reviews:decide, decides nothing.
	e.expectAuthError(token("reviews:decide:*").decide(rid, "approve"), http.StatusForbidden,
		"missing permission reviews:decide")
	r := token("reviews:decide", "reviews:decide:Payments").decide(rid, "approve")
	e.expect(r, http.StatusForbidden, "FORBIDDEN")
	require.Contains(t, string(r.body), "reviews:decide:payments")

	// The API key "alice" is another identity than the subject "alice".
	resolved := e.expect(e.as("alice").decide(rid, "approve"), http.StatusCreated, "")
	require.Equal(t, "resolved", resolved["status"])
	votes := resolved["votes"].([]any)
	require.Equal(t, map[string]any{"type": "user", "id": "alice"}, votes[0].(map[string]any)["actor"])
	require.Equal(t, map[string]any{"type": "api_key", "id": "alice"}, votes[1].(map[string]any)["actor"])
}
