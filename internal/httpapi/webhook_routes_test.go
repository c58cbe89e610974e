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
