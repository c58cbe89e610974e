package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A route is registered as text and called as a client sends it,
// percent-encoded: "/café", "/a b", "/pay?x" and "/pay#x" were activated
// and then answered 404 to every call, the route compared with the path
// as sent (found by a defect hunt). They are served.
func TestWebhookRoutesAreCalledEncoded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for i, route := range []string{"/café", "/a b", "/pay?x", "/pay#x", "/100%"} {
		t.Run(route, func(t *testing.T) {
			h := h.with(t)
			wf := linear(fmt.Sprintf("encoded-%d", i))
			wf["nodes"].([]map[string]any)[0]["data"] = map[string]any{"triggerType": "webhook", "path": route, "method": "POST"}
			id := h.expect(h.do("POST", "/v1/workflows", wf), http.StatusCreated, "")["workflowId"].(string)
			h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")
			call := (&url.URL{Path: "/v1/webhooks" + route}).EscapedPath() // what a client sends
			require.NotEqual(t, "/v1/webhooks"+route, call, "the client encodes it")
			h.expect(h.do("POST", call, map[string]any{"amount": 1}), http.StatusCreated, "")
		})
	}
	// A route registered encoded is matched as sent first, as the reference
	// matches every route (it decodes nothing).
	wf := linear("registered-encoded")
	wf["nodes"].([]map[string]any)[0]["data"] = map[string]any{"triggerType": "webhook", "path": "/pct%41", "method": "POST"}
	id := h.expect(h.do("POST", "/v1/workflows", wf), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")
	h.expect(h.do("POST", "/v1/webhooks/pct%41", map[string]any{"amount": 1}), http.StatusCreated, "")
}

// Two triggers of one workflow declaring the same route (once normalised:
// "/tx" and "tx/") are refused when saved, naming both: the draft was
// saved and its activation answered 409 blaming "another active workflow"
// that did not exist (found by a defect hunt). A path longer than 1,024
// characters is refused too: PostgreSQL's index cannot hold a route of
// about 2.7 KB, and the activation answered 500 there.
func TestWebhookRouteRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	wf := linear("dup-route")
	wf["nodes"] = append(wf["nodes"].([]map[string]any), map[string]any{"id": "hook2", "type": "trigger",
		"data": map[string]any{"triggerType": "webhook", "path": "tx/", "method": "POST"}})
	wf["edges"] = append(wf["edges"].([]map[string]any), map[string]any{"id": "e2", "source": "hook2", "target": "approve"})
	wf["nodes"].([]map[string]any)[0]["data"] = map[string]any{"triggerType": "webhook", "path": "/tx", "method": "POST"}
	body := h.expect(h.do("POST", "/v1/workflows", wf), http.StatusBadRequest, "FLK-0211")
	require.Contains(t, body["message"], `declare the same webhook route POST /tx`)

	long := linear("long-route")
	long["nodes"].([]map[string]any)[0]["data"] = map[string]any{"triggerType": "webhook",
		"path": "/" + strings.Repeat("p", 1024), "method": "POST"}
	h.expect(h.do("POST", "/v1/workflows", long), http.StatusBadRequest, "FLK-0211")
	long["nodes"].([]map[string]any)[0]["data"].(map[string]any)["path"] = "/" + strings.Repeat("p", 1023)
	h.expect(h.do("POST", "/v1/workflows", long), http.StatusCreated, "")
}

// A call is matched as sent, then percent-decoded, so a route registered
// as "/pay%20in" took every call "/pay%20in" meant for the active route
// "/pay in": another workflow ran its transactions, under its own token or
// none (found by a defect hunt). Routes one call could reach both are
// refused: at activation against other workflows' (409 FLK-0360), at save
// within one workflow (400 FLK-0211). The first route keeps its calls.
func TestWebhookRoutesOneCallCouldReachAreRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	activate := func(name, path string) (string, map[string]any, int) {
		wf := linear(name)
		wf["nodes"].([]map[string]any)[0]["data"] = map[string]any{"triggerType": "webhook", "path": path, "method": "POST"}
		id := h.expect(h.do("POST", "/v1/workflows", wf), http.StatusCreated, "")["workflowId"].(string)
		r := h.do("POST", "/v1/workflows/"+id+"/activate", nil)
		return id, r.json(t), r.status
	}
	for i, pair := range [][2]string{{"/pay in", "/pay%20in"}, {"/tip%20in", "/tip in"},
		{"/a%20b", "/a%2520b"}, {"/c%2520d", "/c%20d"}} {
		first, _, st := activate(fmt.Sprintf("first-%d", i), pair[0])
		require.Equal(t, http.StatusOK, st, pair[0])
		_, body, st := activate(fmt.Sprintf("second-%d", i), pair[1])
		require.Equal(t, http.StatusConflict, st, "%s after %s", pair[1], pair[0])
		require.Equal(t, "FLK-0360", body["code"])
		call := "/v1/webhooks" + strings.ReplaceAll(pair[0], " ", "%20")
		r := h.do("POST", call, map[string]any{"amount": 1})
		require.Equal(t, http.StatusCreated, r.status, call)
		require.Equal(t, first, r.header.Get("X-Webhook-Workflow-ID"), "the first route keeps its calls")
	}

	wf := linear("both-in-one")
	wf["nodes"] = append(wf["nodes"].([]map[string]any), map[string]any{"id": "hook2", "type": "trigger",
		"data": map[string]any{"triggerType": "webhook", "path": "/x%20y", "method": "POST"}})
	wf["edges"] = append(wf["edges"].([]map[string]any), map[string]any{"id": "e2", "source": "hook2", "target": "approve"})
	wf["nodes"].([]map[string]any)[0]["data"] = map[string]any{"triggerType": "webhook", "path": "/x y", "method": "POST"}
	body := h.expect(h.do("POST", "/v1/workflows", wf), http.StatusBadRequest, "FLK-0211")
	require.Contains(t, body["message"], "a call to one could reach the other")
}
