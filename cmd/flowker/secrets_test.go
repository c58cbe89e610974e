package main

// Secrets end to end: the real binary, a fake provider, a fake OTLP/HTTP
// collector. A distinct secret is planted in every place a secret can be
// given to Flowker; the provider must receive each, and none may appear in
// any HTTP response, the logs (stderr and the OTLP export), the exported
// traces, or the SQLite database and its WAL (docs/security.md).

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// otlpSink is a fake OTLP/HTTP collector: it keeps every export as sent
// (protobuf, where strings travel as their bytes), by path.
type otlpSink struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][]byte
}

func newOTLPSink(t *testing.T) *otlpSink {
	t.Helper()
	s := &otlpSink{bodies: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			rd = zr
		}
		b, _ := io.ReadAll(rd)
		s.mu.Lock()
		s.bodies[r.URL.Path] = append(s.bodies[r.URL.Path], b...)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *otlpSink) body(path string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.bodies[path])
}

// leakClient calls the API and keeps every response body.
type leakClient struct {
	t      *testing.T
	p      *proc
	bodies [][]byte
	calls  []string // method and path of each body
}

func (c *leakClient) do(method, path string, body any, status int, headers ...string) map[string]any {
	c.t.Helper()
	var sent []byte
	if body != nil {
		var err error
		sent, err = json.Marshal(body)
		require.NoError(c.t, err)
	}
	code, _, raw, err := c.p.request(method, path, sent, headers...)
	require.NoError(c.t, err)
	c.bodies, c.calls = append(c.bodies, raw), append(c.calls, method+" "+path)
	require.Equal(c.t, status, code, "%s %s: %s", method, path, raw)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		require.NoError(c.t, json.Unmarshal(raw, &out), "%s %s: %s", method, path, raw)
	}
	return out
}

// requireAbsent fails when data holds a secret, in clear, base64 or hex.
func requireAbsent(t *testing.T, where string, data []byte, secrets map[string]string) {
	t.Helper()
	for name, s := range secrets {
		for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s)), hex.EncodeToString([]byte(s))} {
			require.False(t, bytes.Contains(data, []byte(form)), "%s hold the %s secret (as %q)", where, name, form)
		}
	}
}

// sqliteFiles reads the database and its WAL (when present).
func sqliteFiles(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	for _, name := range []string{"flowker.db", "flowker.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, "data", name)) //nolint:gosec // the test's own directory
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		all = append(all, b...)
	}
	require.NotEmpty(t, all)
	return all
}

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	sec := map[string]string{}
	for _, name := range []string{"pc-url-password", "pc-x-auth-token", "pc-x-auth-token-rotated", "pc-x-signature", "node-x-node-token", "node-x-node-sig",
		"node-body-password", "input-password", "webhook-verify-token", "executor-api-key", "broken-url-user", "broken-url-password"} {
		sec[name] = "zq-" + name + "-SECRET-" + uuid.NewString()[:8]
	}
	fake := providertest.New(t)
	sink := newOTLPSink(t)
	p := start(t, "ENABLE_TELEMETRY=true", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+sink.URL, "OTEL_METRIC_EXPORT_INTERVAL=500", "LOG_LEVEL=debug",
		"SSRF_ALLOW_PRIVATE=true", "ENGINE_MAX_ATTEMPTS=1")
	p.waitReady()
	c := &leakClient{t: t, p: p}

	// Configurations: a provider's URL user info and a header no name list
	// knows; an executor's API key.
	withUser := func(u, pass string) string { return strings.Replace(u, "://", "://flowker:"+pass+"@", 1) }
	userinfo := func(u, user, pass string) string { return strings.Replace(u, "://", "://"+user+":"+pass+"@", 1) }
	pc := c.do("POST", "/v1/provider-configurations", map[string]any{"name": "leaks", "providerId": "http",
		"config": map[string]any{"base_url": withUser(fake.URL, sec["pc-url-password"]),
			"headers": map[string]any{"X-Auth-Token": sec["pc-x-auth-token"], "X-Signature": sec["pc-x-signature"],
				"Accept": "application/json"}}},
		http.StatusCreated)["id"].(string)
	pcPath := "/v1/provider-configurations/" + pc
	cfg := c.do("GET", pcPath, nil, http.StatusOK)["config"]
	c.do("PATCH", pcPath, map[string]any{"config": cfg}, http.StatusOK) // masked: kept
	c.do("POST", pcPath+"/test", nil, http.StatusOK)
	ex := c.do("POST", "/v1/executors", map[string]any{"name": "leaks-exec", "baseUrl": fake.URL,
		"endpoints": []map[string]any{{"name": "check", "path": "/v1/exec", "method": "POST"}},
		"authentication": map[string]any{"type": "api_key",
			"config": map[string]any{"api_key": sec["executor-api-key"], "header_name": "X-Exec-Key"}}},
		http.StatusCreated)["id"].(string)
	for _, action := range []string{"configure", "test", "activate"} {
		c.do("POST", "/v1/executors/"+ex+"/"+action, nil, http.StatusOK)
	}

	// A workflow: a webhook token, node headers, a node body's password, a
	// password produced by inputMapping, a call through the executor.
	call := func(id, path string, extra map[string]any) map[string]any {
		data := map[string]any{"executorId": "http.request", "providerConfigId": pc, "method": "POST", "path": path}
		for k, v := range extra {
			data[k] = v
		}
		return map[string]any{"id": id, "type": "executor", "data": data}
	}
	wfBody := map[string]any{"name": "leaks", "nodes": []map[string]any{
		{"id": "hook", "type": "trigger", "data": map[string]any{"triggerType": "webhook", "path": "/leaks",
			"method": "POST", "verify_token": sec["webhook-verify-token"]}},
		call("call", "/v1/call", map[string]any{"headers": map[string]any{"X-Node-Token": sec["node-x-node-token"],
			"X-Node-Sig": sec["node-x-node-sig"]},
			"body": map[string]any{"password": sec["node-body-password"], "amount": 10}}),
		call("mapped", "/v1/mapped", map[string]any{"inputMapping": []any{
			map[string]any{"source": "workflow.user.password", "target": "password"}}}),
		{"id": "exec", "type": "executor", "data": map[string]any{"executorConfigId": ex, "endpointName": "check"}},
	}, "edges": []map[string]any{{"id": "e1", "source": "hook", "target": "call"},
		{"id": "e2", "source": "hook", "target": "mapped"}, {"id": "e3", "source": "hook", "target": "exec"}}}
	wf := c.do("POST", "/v1/workflows", wfBody, http.StatusCreated)["workflowId"].(string)
	shown := c.do("GET", "/v1/workflows/"+wf, nil, http.StatusOK)
	c.do("PUT", "/v1/workflows/"+wf, map[string]any{"name": "leaks", "nodes": shown["nodes"], "edges": shown["edges"]},
		http.StatusOK) // masked: kept
	c.do("POST", "/v1/workflows/"+wf+"/activate", nil, http.StatusOK)

	// Run it by webhook and by API.
	input := map[string]any{"user": map[string]any{"name": "maria", "password": sec["input-password"]}}
	hooked := c.do("POST", "/v1/webhooks/leaks", input, http.StatusCreated,
		"X-Webhook-Token", sec["webhook-verify-token"])["executionId"].(string)
	p.poll("the webhook's execution to finish", func() bool {
		return c.do("GET", "/v1/executions/"+hooked, nil, http.StatusOK)["status"] == "completed"
	})
	c.do("GET", "/v1/executions/"+hooked+"/results", nil, http.StatusOK)
	res := c.do("POST", "/v1/workflows/"+wf+"/executions?wait=5s", map[string]any{"inputData": input}, http.StatusOK,
		"Idempotency-Key", uuid.NewString())
	require.Equal(t, "completed", res["status"], "%v", res)

	// A call that fails on a URL with user info (a token as the user name
	// too, which Go's errors keep): the error is recorded and logged.
	broken := c.do("POST", "/v1/provider-configurations", map[string]any{"name": "broken", "providerId": "http",
		"config": map[string]any{"base_url": userinfo("http://"+freeAddr(t), sec["broken-url-user"],
			sec["broken-url-password"])}},
		http.StatusCreated)["id"].(string)
	failing := c.do("POST", "/v1/workflows", map[string]any{"name": "leaks-failing", "nodes": []map[string]any{
		{"id": "start", "type": "trigger"},
		{"id": "call", "type": "executor", "data": map[string]any{"executorId": "http.request",
			"providerConfigId": broken, "method": "POST", "path": "/v1/x?sig=abc"}},
	}, "edges": []map[string]any{{"id": "e1", "source": "start", "target": "call"}}}, http.StatusCreated)["workflowId"].(string)
	c.do("POST", "/v1/workflows/"+failing+"/activate", nil, http.StatusOK)
	res = c.do("POST", "/v1/workflows/"+failing+"/executions?wait=5s", map[string]any{"inputData": input},
		http.StatusOK, "Idempotency-Key", uuid.NewString())
	require.Equal(t, "failed", res["status"], "%v", res)

	// Rotate the provider's header secret; read everything back.
	cfg = c.do("GET", pcPath, nil, http.StatusOK)["config"]
	cfg.(map[string]any)["headers"].(map[string]any)["X-Auth-Token"] = sec["pc-x-auth-token-rotated"]
	c.do("PATCH", pcPath, map[string]any{"config": cfg}, http.StatusOK)
	for _, path := range []string{"/v1/provider-configurations", "/v1/executors", "/v1/executors/" + ex,
		"/v1/workflows", "/v1/executions", "/v1/audit-events"} {
		c.do("GET", path, nil, http.StatusOK)
	}

	// The provider got the real values.
	calls := fake.RequestsTo("/v1/call")
	require.Len(t, calls, 2)
	for _, r := range calls {
		require.Equal(t, sec["pc-x-auth-token"], r.Header.Get("X-Auth-Token"))
		require.Equal(t, sec["node-x-node-token"], r.Header.Get("X-Node-Token"))
		require.Equal(t, sec["pc-x-signature"], r.Header.Get("X-Signature"))
		require.Equal(t, sec["node-x-node-sig"], r.Header.Get("X-Node-Sig"))
		require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("flowker:"+sec["pc-url-password"])),
			r.Header.Get("Authorization"))
		require.Contains(t, string(r.Body), sec["node-body-password"])
	}
	for _, r := range fake.RequestsTo("/v1/mapped") {
		require.Contains(t, string(r.Body), sec["input-password"])
	}
	execCalls := fake.RequestsTo("/v1/exec")
	require.NotEmpty(t, execCalls)
	for _, r := range execCalls {
		require.Equal(t, sec["executor-api-key"], r.Header.Get("X-Exec-Key"))
	}

	for i, b := range c.bodies {
		requireAbsent(t, "the response to "+c.calls[i], b, sec)
	}
	running := sqliteFiles(t, p.dir)
	require.True(t, bytes.Contains(running, []byte("enc:v1:")), "the files do hold sealed values")
	requireAbsent(t, "the database and its WAL", running, sec)

	// Stop: the telemetry is flushed, the WAL checkpointed.
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.wait(15*time.Second))
	requireAbsent(t, "the database after shutdown", sqliteFiles(t, p.dir), sec)
	logs := p.stderr.String()
	require.Regexp(t, `Post \\"http://127\.0\.0\.1:\d+/v1/x\?sig=REDACTED\\"`, logs,
		"the failed call's URL was logged, without its user information and its query value")
	requireAbsent(t, "the logs", []byte(logs), sec)
	traces := sink.body("/v1/traces")
	require.True(t, bytes.Contains(traces, []byte("command.execution.execute_executor_node")), "spans were exported")
	require.True(t, bytes.Contains(traces, []byte("/v1/call")), "client spans with the provider's URL were exported")
	requireAbsent(t, "the exported traces", traces, sec)
	exported := sink.body("/v1/logs")
	require.True(t, bytes.Contains(exported, []byte("sig=REDACTED")), "logs were exported")
	requireAbsent(t, "the exported logs", exported, sec)
	requireAbsent(t, "the exported metrics", sink.body("/v1/metrics"), sec)
}
