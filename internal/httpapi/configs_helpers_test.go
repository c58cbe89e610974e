package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// allowPrivate lets the outbound client reach a providertest fake on 127.0.0.1.
var allowPrivate = map[string]string{"SSRF_ALLOW_PRIVATE": "true"}

const (
	orgID    = "0b6a3f2e-5d1c-4c8e-9f7a-2b3c4d5e6f70"
	ledgerID = "7c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
)

// tracerBody is a create body for a tracer provider configuration.
func tracerBody(name, baseURL, apiKey string) map[string]any {
	return map[string]any{"name": name, "providerId": "tracer", "description": "tracer " + name,
		"config":   map[string]any{"base_url": baseURL, "api_key": apiKey},
		"metadata": map[string]any{"team": "risk"}}
}

// midazBody is a create body for a midaz provider configuration; auth,
// when not nil, becomes its OIDC client-credentials block.
func midazBody(name, baseURL string, auth map[string]any) map[string]any {
	cfg := map[string]any{"onboarding_base_url": baseURL, "transaction_base_url": baseURL,
		"organization_id": orgID, "ledger_id": ledgerID}
	if auth != nil {
		cfg["auth"] = auth
	}
	return map[string]any{"name": name, "providerId": "midaz", "config": cfg}
}

// executorBody is a create (or full PATCH) body for an executor configuration.
func executorBody(name, baseURL, authType string, authConfig map[string]any) map[string]any {
	auth := map[string]any{"type": authType}
	if authConfig != nil {
		auth["config"] = authConfig
	}
	return map[string]any{"name": name, "description": "executor " + name, "baseUrl": baseURL,
		"endpoints": []map[string]any{
			{"name": "check", "path": "/v1/check", "method": "post", "timeout": 5},
			{"name": "status", "path": "/v1/status", "method": "GET"},
		},
		"authentication": auth, "metadata": map[string]any{"owner": "payments"}}
}

// create POSTs body to path, expects 201 and returns the new id.
func (h *harness) create(path string, body any) string {
	h.t.Helper()
	r := h.do("POST", path, body)
	m := h.expect(r, http.StatusCreated, "")
	id, _ := m["id"].(string)
	require.NotEmpty(h.t, id, string(r.body))
	return id
}

// createProvider creates a provider configuration and returns its id.
func (h *harness) createProvider(body map[string]any) string {
	h.t.Helper()
	return h.create("/v1/provider-configurations", body)
}

// createExecutor creates an executor configuration and returns its id.
func (h *harness) createExecutor(body map[string]any) string {
	h.t.Helper()
	return h.create("/v1/executors", body)
}

// executorTo moves an executor configuration on from its current status
// through configure, a passing test (its base URL must answer), activate
// and disable, until it reaches status.
func (h *harness) executorTo(id, status string) {
	h.t.Helper()
	path := "/v1/executors/" + id
	steps := []struct{ action, status string }{
		{"configure", "configured"}, {"test", "tested"}, {"activate", "active"}, {"disable", "disabled"},
	}
	current := h.expect(h.do("GET", path, nil), http.StatusOK, "")["status"]
	for i, s := range steps {
		if s.status == current {
			steps = steps[i+1:]
			break
		}
	}
	for _, s := range steps {
		got := h.expect(h.do("POST", path+"/"+s.action, nil), http.StatusOK, "")
		require.Equal(h.t, s.status, got["status"], "after %s: %v", s.action, got)
		if s.status == status {
			return
		}
	}
	h.t.Fatalf("unknown executor status %q", status)
}

// closedPortURL is an http URL on 127.0.0.1 where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// stage is one connectivity-test stage as the API renders it.
type stage struct {
	Name, Status, Message, Error string
	Details                      map[string]any
}

// testStages checks a connectivity-test body's overall status and the
// status of each stage (connectivity, authentication, end_to_end) and
// returns the stages.
func testStages(t *testing.T, res map[string]any, overall string, statuses ...string) []stage {
	t.Helper()
	require.Equal(t, overall, res["overallStatus"], "%v", res)
	for _, k := range []string{"durationMs", "summary", "startedAt", "completedAt"} {
		require.Contains(t, res, k)
	}
	raw, ok := res["stages"].([]any)
	require.True(t, ok, "%v", res)
	require.Len(t, raw, len(statuses), "%v", res)
	out := make([]stage, len(raw))
	names := []string{"connectivity", "authentication", "end_to_end"}
	for i, r := range raw {
		m := r.(map[string]any)
		s := stage{}
		s.Name, _ = m["name"].(string)
		s.Status, _ = m["status"].(string)
		s.Message, _ = m["message"].(string)
		s.Error, _ = m["error"].(string)
		s.Details, _ = m["details"].(map[string]any)
		require.Equal(t, names[i], s.Name)
		require.Equal(t, statuses[i], s.Status, "stage %s: %v", s.Name, m)
		if s.Status == "failed" {
			require.NotEmpty(t, s.Error, "a failed stage says why")
		}
		out[i] = s
	}
	return out
}

// items returns a list body's items as maps.
func items(t *testing.T, list map[string]any) []map[string]any {
	t.Helper()
	raw, ok := list["items"].([]any)
	require.True(t, ok, "%v", list)
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

// names returns the "name" of each item.
func names(ms []map[string]any) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i], _ = m["name"].(string)
	}
	return out
}

// mask is the reference's rendering of a secret longer than four bytes.
func mask(secret string) string { return "****" + secret[len(secret)-4:] }
