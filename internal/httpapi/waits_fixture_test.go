package httpapi_test

// Fixtures for the tests of waiting executions (reviews, callbacks,
// signals): a flowEnv whose server requires API keys, one per person, and
// builders of review and wait_for_callback nodes.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"flowker/internal/engine"
	"flowker/internal/provider/providertest"
)

// keyOf is the API key of the identity id in a keyed env.
func keyOf(id string) string { return "key-" + id + "-0123456789abcdef" }

// newKeyedFlowEnv is a flowEnv whose server requires API keys: "ops",
// every permission, sent by default, and one per id in ids, with perms as
// API_KEY_PERMISSIONS ("" when every key has every permission). log (nil:
// none) receives the API's and the engine's logs.
func newKeyedFlowEnv(t *testing.T, log *zap.Logger, ids []string, perms string) *flowEnv {
	t.Helper()
	return newTunedKeyedFlowEnv(t, log, ids, perms, nil)
}

// newTunedKeyedFlowEnv is newKeyedFlowEnv with the engine's options changed
// by tune (nil: unchanged).
func newTunedKeyedFlowEnv(t *testing.T, log *zap.Logger, ids []string, perms string, tune func(*engine.Options)) *flowEnv {
	t.Helper()
	keys := []string{"ops:" + keyOf("ops")}
	for _, id := range ids {
		keys = append(keys, id+":"+keyOf(id))
	}
	env := map[string]string{"SSRF_ALLOW_PRIVATE": "true", "API_KEY_ENABLED": "true", "API_KEYS": strings.Join(keys, ",")}
	if perms != "" {
		env["API_KEY_PERMISSIONS"] = perms
	}
	if log == nil {
		log = zap.NewNop()
	}
	h := newHarnessLog(t, env, tune, log)
	h.headers = []string{"X-API-Key", keyOf("ops")}
	fake := providertest.New(t)
	return &flowEnv{harness: h, fake: fake, pc: h.createProvider(httpProviderBody(fake.URL))}
}

// as is h sending the API key of id instead of its default credential.
func (h *harness) as(id string) *harness {
	c := *h
	c.headers = []string{"X-API-Key", keyOf(id)}
	return &c
}

// reviewNode is a review node with data (nil: every default).
func reviewNode(id string, data map[string]any) map[string]any {
	return map[string]any{"id": id, "type": "review", "data": data}
}

// callbackNode is a wait_for_callback node with data (nil: every default).
func callbackNode(id string, data map[string]any) map[string]any {
	return map[string]any{"id": id, "type": "wait_for_callback", "data": data}
}

// reviewFlow is trigger → review (data) → "approve": a call to /pay,
// sending the execution's id; "reject": set_output {decision: REJECT}.
func (e *flowEnv) reviewFlow(data map[string]any) ([]map[string]any, []map[string]any) {
	return []map[string]any{triggerNode("start"), reviewNode("review", data),
			e.callNode("pay", "/pay", map[string]any{"inputMapping": []map[string]any{
				{"source": "execution.id", "target": "executionId"}}}),
			outputNode("rejected", map[string]any{"decision": "REJECT"})},
		[]map[string]any{edge("start", "review"), edge("review", "pay", "approve"), edge("review", "rejected", "reject")}
}

// openReview waits until execution id has an open review and returns it.
func (h *harness) openReview(id string) map[string]any {
	h.t.Helper()
	var found map[string]any
	eventually(h.t, "an open review of execution "+id, func() bool {
		list := h.expect(h.do("GET", "/v1/reviews?status=open&limit=100", nil), http.StatusOK, "")
		for _, it := range list["items"].([]any) {
			if r := it.(map[string]any); r["executionId"] == id {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// decide posts a decision on review id; comment is optional.
func (h *harness) decide(id, decision string, comment ...string) response {
	h.t.Helper()
	body := map[string]any{"decision": decision}
	if len(comment) > 0 {
		body["comment"] = comment[0]
	}
	return h.do("POST", "/v1/reviews/"+id+"/decisions", body)
}

// status is an execution's status.
func (h *harness) status(id string) string {
	h.t.Helper()
	s, _ := h.expect(h.do("GET", "/v1/executions/"+id, nil), http.StatusOK, "")["status"].(string)
	return s
}

// awaitStatus polls an execution until it has status want.
func (h *harness) awaitStatus(id, want string) {
	h.t.Helper()
	eventually(h.t, "execution "+id+" to be "+want, func() bool { return h.status(id) == want })
}

// callbackPath is the path of the callback URL a provider received in
// the JSON field name of req's body (the URL's host is PUBLIC_URL's).
func callbackPath(t *testing.T, req providertest.Request, name string) string {
	t.Helper()
	var body map[string]any
	require.NoError(t, json.Unmarshal(req.Body, &body), string(req.Body))
	raw, _ := body[name].(string)
	u, err := url.Parse(raw)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u.Path, "/v1/callbacks/"), raw)
	return u.Path
}
