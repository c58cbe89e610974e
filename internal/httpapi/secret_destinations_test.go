package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// secretHeaderWorkflow creates a workflow whose call node sends header
// with a secret value, and reads it back: its id, the body read (the
// secret masked), and the workflow and the node's data to send back.
func (e *flowEnv) secretHeaderWorkflow(t *testing.T, header, value string) (id string, read response,
	wf, data map[string]any) {
	t.Helper()
	node := e.callNode("call", "/pay", map[string]any{"headers": map[string]any{header: value}})
	body := workflowBody([]map[string]any{triggerNode("t"), node}, []map[string]any{edge("t", "call")})
	id = e.expect(e.do("POST", "/v1/workflows", body), http.StatusCreated, "")["workflowId"].(string)
	read = e.do("GET", "/v1/workflows/"+id, nil)
	require.NotContains(t, string(read.body), value)
	wf = read.json(t)
	data = wf["nodes"].([]any)[1].(map[string]any)["data"].(map[string]any)
	return id, read, wf, data
}

// A workflow writer who cannot read a node's secret header re-pointed the
// node at another provider configuration and sent the header back masked:
// the stored secret was restored and, at the next run, sent to the other
// configuration's host (found by a review). A node that calls elsewhere
// takes its secrets in full.
func TestMaskedNodeSecretDoesNotFollowAnotherConfiguration(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	other := providertest.New(t) // another party's host
	otherPC := e.createProvider(httpProviderBody(other.URL))
	const hmac = "node-partner-value-SECRET-7788"
	id, _, wf, data := e.secretHeaderWorkflow(t, "X-Partner-Sig", hmac)
	data["providerConfigId"] = otherPC // the destination moves; the header is sent back masked
	r := e.do("PUT", "/v1/workflows/"+id, map[string]any{"name": wf["name"], "nodes": wf["nodes"], "edges": wf["edges"]})
	if r.status == http.StatusOK {
		e.expect(e.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")
		e.run(id, map[string]any{})
		for _, req := range other.Requests() {
			if req.Header.Get("X-Partner-Sig") == hmac {
				t.Errorf("the stored secret header reached the other configuration's host %s", other.URL)
			}
		}
	}
	require.Equal(t, http.StatusBadRequest, r.status,
		"a masked node secret was kept while the node moved to another provider configuration: %s", r.body)
}

// A provider configuration read and sent back unchanged keeps its secrets,
// also a secret header whose name ends in "Url" (X-Return-Url): headers
// are what a call carries, not where it goes (refused, found by a review).
func TestRoundTripWithAURLNamedSecretHeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := h.createProvider(map[string]any{"name": "return-url-partner", "providerId": "http",
		"config": map[string]any{"base_url": "https://partner.example.com",
			"headers": map[string]any{"X-Return-Url": "https://bank.example.com/return?sig=abc123"}}})
	before := h.expect(h.do("GET", "/v1/provider-configurations/"+id, nil), http.StatusOK, "")
	r := h.do("PATCH", "/v1/provider-configurations/"+id, map[string]any{"config": before["config"],
		"description": "unchanged config, new description"})
	require.Equal(t, http.StatusOK, r.status, "the unchanged config read back is refused: %s", r.body)
}

// The same secret, moved the other way: whoever may write provider
// configurations (but not read a workflow's node secrets) pointed the
// configuration a node calls at a host of their own, and the node's secret
// header went there at the next run (found by a review). Moving the URL of
// a configuration whose callers' nodes hold secrets is refused (409
// FLK-0351, naming them); nothing changes.
func TestConfigurationURLDoesNotMoveNodeSecrets(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	other := providertest.New(t)
	const hmac = "node-partner-value-SECRET-9911"
	node := e.callNode("call", "/pay", map[string]any{"headers": map[string]any{"X-Partner-Sig": hmac}})
	id := e.activate([]map[string]any{triggerNode("t"), node}, []map[string]any{edge("t", "call")})
	before := e.expect(e.do("GET", "/v1/provider-configurations/"+e.pc, nil), http.StatusOK, "")
	m := e.expect(e.do("PATCH", "/v1/provider-configurations/"+e.pc, map[string]any{"config": map[string]any{"base_url": other.URL}}),
		http.StatusConflict, "FLK-0351")
	require.Contains(t, m["message"], id)
	require.Equal(t, before, e.expect(e.do("GET", "/v1/provider-configurations/"+e.pc, nil), http.StatusOK, ""))
	e.start(id, "?wait=5s", map[string]any{})
	require.Empty(t, other.Requests())
	// A configuration whose callers hold no secrets of their own moves.
	plain := e.createProvider(httpProviderBody(e.fake.URL))
	e.expect(e.do("PATCH", "/v1/provider-configurations/"+plain, map[string]any{"config": map[string]any{"base_url": other.URL}}),
		http.StatusOK, "")
}
