package httpapi_test

// Configurations in use (issue 10): deleting a provider or executor
// configuration an active workflow calls is refused (409 FLK-0351, naming
// the workflows); disabling one stops the very next run, not after a cache
// lapses.

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProviderConfigInUse(t *testing.T) {
	t.Parallel()
	env := newFlowEnv(t, nil)
	env.fake.Respond("/call", okJSON(map[string]any{"ok": true}))
	nodes := []map[string]any{triggerNode("t"), env.callNode("call", "/call")}
	wf := env.activate(nodes, []map[string]any{edge("t", "call")})
	name := env.expect(env.do("GET", "/v1/workflows/"+wf, nil), http.StatusOK, "")["name"].(string)
	// A draft naming it does not hold it.
	env.expect(env.do("POST", "/v1/workflows", workflowBody(nodes, nil)), http.StatusCreated, "")
	require.Equal(t, "completed", env.run(wf, map[string]any{})["status"]) // resolved (and cached) once

	pcPath := "/v1/provider-configurations/" + env.pc
	m := env.expect(env.do("DELETE", pcPath, nil), http.StatusConflict, "FLK-0351")
	require.Contains(t, m["message"], name)
	require.Contains(t, m["message"], wf)

	// Disabled: the next run fails at once, saying why.
	env.expect(env.do("POST", pcPath+"/disable", nil), http.StatusOK, "")
	res := env.run(wf, map[string]any{})
	require.Equal(t, "failed", res["status"], "%v", res)
	require.Contains(t, step(t, res, "call")["errorMessage"], "is disabled")
	env.expect(env.do("POST", pcPath+"/enable", nil), http.StatusOK, "")
	require.Equal(t, "completed", env.run(wf, map[string]any{})["status"])

	// Once no active workflow uses it, it can go.
	env.expect(env.do("POST", "/v1/workflows/"+wf+"/deactivate", nil), http.StatusOK, "")
	env.expect(env.do("DELETE", pcPath, nil), http.StatusNoContent, "")
}

func TestExecutorConfigInUse(t *testing.T) {
	t.Parallel()
	env := newFlowEnv(t, nil)
	exec := env.createExecutor(executorBody("partner", env.fake.URL, "none", nil))
	env.executorTo(exec, "active")
	node := map[string]any{"id": "call", "type": "executor",
		"data": map[string]any{"executorConfigId": exec, "endpointName": "check"}}
	wf := env.activate([]map[string]any{triggerNode("t"), node}, []map[string]any{edge("t", "call")})
	require.Equal(t, "completed", env.run(wf, map[string]any{})["status"])

	exPath := "/v1/executors/" + exec
	env.expect(env.do("POST", exPath+"/disable", nil), http.StatusOK, "")
	res := env.run(wf, map[string]any{})
	require.Equal(t, "failed", res["status"], "%v", res)
	require.Contains(t, step(t, res, "call")["errorMessage"], "is disabled")
	m := env.expect(env.do("DELETE", exPath, nil), http.StatusConflict, "FLK-0351")
	require.Contains(t, m["message"], wf)
	env.expect(env.do("POST", "/v1/workflows/"+wf+"/deactivate", nil), http.StatusOK, "")
	env.expect(env.do("DELETE", exPath, nil), http.StatusNoContent, "")
}
