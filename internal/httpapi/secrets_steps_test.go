package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// TestStepRecordsRedacted: what a step sent is recorded (results, the
// stored step) with the rules of the logs, while the provider gets the
// real values: header values, a URL's user info, secret-named body fields
// (literal or produced by inputMapping). The execution input is sealed at
// rest.
func TestStepRecordsRedacted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	sec := map[string]string{}
	for _, name := range []string{"url-password", "pc-header", "node-header", "body-password", "input-password", "query-key"} {
		sec[name] = "zq-" + name + "-SECRET-14142"
	}
	base := strings.Replace(fake.URL, "://", "://flowker:"+sec["url-password"]+"@", 1)
	pc := h.createProvider(map[string]any{"name": "steps", "providerId": "http", "config": map[string]any{
		"base_url": base, "headers": map[string]any{"X-Auth-Token": sec["pc-header"], "Accept": "application/json"}}})
	wf := h.activate([]map[string]any{triggerNode("start"),
		callNodeFor(pc, "call", "/v1/call", map[string]any{
			"headers": map[string]any{"X-Node-Token": sec["node-header"]},
			"body":    map[string]any{"password": sec["body-password"], "amount": 10}}),
		callNodeFor(pc, "mapped", "/v1/mapped", map[string]any{"inputMapping": []any{
			map[string]any{"source": "workflow.user.password", "target": "password"},
			map[string]any{"source": "workflow.user.name", "target": "name"}}}),
		callNodeFor(pc, "lookup", "/v1/lookup", map[string]any{"method": "GET", "query": map[string]any{"page": "2"},
			"body": map[string]any{"api_key": sec["query-key"], "customer": "maria"}}),
	}, []map[string]any{edge("start", "call"), edge("start", "mapped"), edge("start", "lookup")})

	res := h.run(wf, map[string]any{"user": map[string]any{"name": "maria", "password": sec["input-password"]}})
	require.Equal(t, "completed", res["status"], "%v", res)

	// The provider got every real value.
	call := fake.RequestsTo("/v1/call")
	require.Len(t, call, 1)
	require.Equal(t, sec["pc-header"], call[0].Header.Get("X-Auth-Token"))
	require.Equal(t, sec["node-header"], call[0].Header.Get("X-Node-Token"))
	require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("flowker:"+sec["url-password"])),
		call[0].Header.Get("Authorization"), "user info becomes Basic credentials")
	require.JSONEq(t, `{"password": "`+sec["body-password"]+`", "amount": 10}`, string(call[0].Body))
	mapped := fake.RequestsTo("/v1/mapped")
	require.Len(t, mapped, 1)
	require.JSONEq(t, `{"password": "`+sec["input-password"]+`", "name": "maria"}`, string(mapped[0].Body))
	lookup := fake.RequestsTo("/v1/lookup")
	require.Len(t, lookup, 1)
	require.Equal(t, sec["query-key"], lookup[0].Query.Get("api_key"))

	// The record shows what was sent, redacted.
	in := step(t, res, "call")["input"].(map[string]any)
	require.Equal(t, map[string]any{"password": "REDACTED", "amount": 10.0}, in["body"])
	require.NotContains(t, in["url"], "flowker:")
	require.Contains(t, in["url"], "://REDACTED@127.0.0.1")
	require.Contains(t, step(t, res, "call")["callDetails"].(map[string]any)["url"], "://REDACTED@127.0.0.1")
	require.Equal(t, map[string]any{"password": "REDACTED", "name": "maria"},
		step(t, res, "mapped")["input"].(map[string]any)["body"])
	require.Equal(t, map[string]any{"api_key": "REDACTED", "customer": []any{"maria"}, "page": []any{"2"}},
		step(t, res, "lookup")["input"].(map[string]any)["query"])

	id := res["executionId"].(string)
	bodies := [][]byte{}
	for _, p := range []string{"/v1/executions/" + id, "/v1/executions/" + id + "/results", "/v1/executions?limit=100",
		"/v1/workflows/" + wf, pcPath + "/" + pc} {
		r := h.do("GET", p, nil)
		require.Equal(t, http.StatusOK, r.status, p)
		bodies = append(bodies, r.body)
	}
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	bodies = append(bodies, raw)
	secrets := make([]string, 0, len(sec))
	for _, s := range sec {
		secrets = append(secrets, s)
	}
	for _, b := range bodies {
		requireNoSecrets(t, "responses", b, secrets)
	}

	// Nothing in clear in any row (the input, the steps, their call
	// details), nor in the files.
	db, err := sql.Open("sqlite", "file:"+h.dbPath)
	require.NoError(t, err)
	defer db.Close()
	dump := dumpTables(context.Background(), t, db)
	require.Contains(t, dump, "/v1/mapped", "the dump sees the steps")
	require.Contains(t, dump, "maria", "and the input")
	requireNoSecrets(t, "rows", []byte(dump), secrets)
	requireNoSecrets(t, "files", rawFiles(t, h.dbPath), secrets)
}
