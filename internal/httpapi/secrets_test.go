package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // driver "sqlite", to read the raw rows
)

// TestSecretsAtRest stores provider and executor configurations with
// distinctive secrets (top level, nested, headers, every executor auth
// type, the "key" alias), round-trips them through a masked PATCH, then
// reads every column of every row of every table, and the raw database
// and WAL bytes: no secret is there, in clear, base64 or hex.
func TestSecretsAtRest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	secrets := []string{}
	s := func(name string) string {
		v := "zq-" + name + "-SECRET-31415"
		secrets = append(secrets, v)
		return v
	}

	tracer := tracerBody("tracer", "https://tracer.example.com", s("tracer-api-key"))
	tracer["config"].(map[string]any)["headers"] = map[string]any{"Authorization": "Bearer " + s("tracer-header")}
	h.createProvider(tracer)
	midID := h.createProvider(midazBody("midaz", "https://midaz.example.com", map[string]any{
		"issuer_url": "https://idp.example.com", "client_id": "flowker", "client_secret": s("midaz-client-secret")}))
	h.createProvider(map[string]any{"name": "http", "providerId": "http", "config": map[string]any{
		"base_url": "https://svc.example.com",
		"auth":     map[string]any{"type": "basic", "username": "svc", "password": s("http-password")}}})
	h.createProvider(map[string]any{"name": "http-bearer", "providerId": "http", "config": map[string]any{
		"base_url": "https://svc.example.com", "headers": map[string]any{"X-API-Key": s("http-header-key")},
		"auth": map[string]any{"type": "bearer", "token": s("http-token")}}})
	// Secrets no name list knows: any header value, a URL's user info.
	headersID := h.createProvider(map[string]any{"name": "http-headers", "providerId": "http", "config": map[string]any{
		"base_url": "https://svc-user:" + s("http-url-password") + "@svc.example.com",
		"headers": map[string]any{"X-Auth-Token": s("http-x-auth-token"), "X-Signature": s("http-x-signature"),
			"Accept": "application/json"}}})

	auths := map[string]map[string]any{
		"api_key":                   {"api_key": s("exec-api-key")},
		"bearer":                    {"token": s("exec-token")},
		"basic":                     {"username": "u", "password": s("exec-password")},
		"oauth2_client_credentials": {"token_url": "https://idp.example.com/token", "client_id": "c", "client_secret": s("exec-cc")},
		"oidc_client_credentials":   {"issuer_url": "https://idp.example.com", "client_id": "c", "client_secret": s("exec-oidc")},
		"oidc_user":                 {"issuer_url": "https://idp.example.com", "client_id": "c", "username": "u", "password": s("exec-user-pw")},
	}
	var execIDs []string
	for typ, cfg := range auths {
		execIDs = append(execIDs, h.createExecutor(executorBody("exec-"+typ, "https://svc.example.com", typ, cfg)))
	}
	aliasID := h.createExecutor(executorBody("exec-key-alias", "https://svc.example.com", "api_key",
		map[string]any{"key": s("exec-key-alias"), "header_name": "X-Key"}))
	execIDs = append(execIDs, aliasID)

	// Node data: headers of an http.request node, its body, a webhook token;
	// sealed in the draft, the active revision and the webhook route.
	wf := workflowBody([]map[string]any{
		{"id": "hook", "type": "trigger", "data": map[string]any{"triggerType": "webhook", "path": "/secrets",
			"method": "POST", "verify_token": s("webhook-verify-token")}},
		callNodeFor(headersID, "call", "/v1/check", map[string]any{
			"headers": map[string]any{"X-Node-Token": s("node-x-node-token"), "X-Node-Sig": s("node-x-node-sig"),
				"Content-Type": "application/json"},
			"body": map[string]any{"password": s("node-body-password"), "amount": 10}}),
	}, []map[string]any{edge("hook", "call")})
	wfID, _ := h.expect(h.do("POST", "/v1/workflows", wf), http.StatusCreated, "")["workflowId"].(string)
	shown := h.expect(h.do("GET", "/v1/workflows/"+wfID, nil), http.StatusOK, "")
	call := shown["nodes"].([]any)[1].(map[string]any)["data"].(map[string]any)
	require.Equal(t, mask(s2(secrets, "node-x-node-token")), call["headers"].(map[string]any)["X-Node-Token"])
	require.Equal(t, mask(s2(secrets, "node-x-node-sig")), call["headers"].(map[string]any)["X-Node-Sig"])
	require.Equal(t, "application/json", call["headers"].(map[string]any)["Content-Type"], "a safe header is shown")
	require.Equal(t, mask(s2(secrets, "node-body-password")), call["body"].(map[string]any)["password"])
	h.expect(h.do("PUT", "/v1/workflows/"+wfID, map[string]any{"name": shown["name"], "nodes": shown["nodes"],
		"edges": shown["edges"]}), http.StatusOK, "")
	h.expect(h.do("POST", "/v1/workflows/"+wfID+"/activate", nil), http.StatusOK, "")
	hc := h.expect(h.do("GET", pcPath+"/"+headersID, nil), http.StatusOK, "")["config"].(map[string]any)
	require.Equal(t, "https://****@svc.example.com", hc["base_url"], "user info masked, the URL shown")
	require.Equal(t, mask(s2(secrets, "http-x-auth-token")), hc["headers"].(map[string]any)["X-Auth-Token"])
	require.Equal(t, mask(s2(secrets, "http-x-signature")), hc["headers"].(map[string]any)["X-Signature"],
		"a header no name rule knows is secret too")
	require.Equal(t, "application/json", hc["headers"].(map[string]any)["Accept"])
	h.expect(h.do("PATCH", pcPath+"/"+headersID, map[string]any{"config": hc}), http.StatusOK, "")

	// The API never shows them either, and a masked round trip keeps them sealed.
	for _, id := range execIDs {
		got := h.expect(h.do("GET", exPath+"/"+id, nil), http.StatusOK, "")
		h.expect(h.do("PATCH", exPath+"/"+id, got), http.StatusOK, "")
	}
	alias := h.expect(h.do("GET", exPath+"/"+aliasID, nil), http.StatusOK, "")
	require.Equal(t, mask(secrets[len(secrets)-1]), alias["authentication"].(map[string]any)["config"].(map[string]any)["key"])
	mcfg := h.expect(h.do("GET", pcPath+"/"+midID, nil), http.StatusOK, "")["config"]
	h.expect(h.do("PATCH", pcPath+"/"+midID, map[string]any{"config": mcfg}), http.StatusOK, "")
	for _, p := range []string{pcPath + "?limit=100", exPath + "?limit=100", "/v1/workflows?limit=100",
		"/v1/workflows/" + wfID} {
		body := string(h.do("GET", p, nil).body)
		for _, sec := range secrets {
			require.NotContains(t, body, sec, p)
		}
	}

	// Every column of every row of every table.
	db, err := sql.Open("sqlite", "file:"+h.dbPath)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	dump := dumpTables(ctx, t, db)
	require.Contains(t, dump, "https://idp.example.com", "the dump does see the stored configs")
	require.Contains(t, dump, "enc:v1:", "secrets are stored sealed")
	require.Contains(t, dump, "workflow_versions", "the active revision is in the dump")
	require.Contains(t, dump, "/secrets", "and its webhook route")
	requireNoSecrets(t, "rows", []byte(dump), secrets)

	// The raw files: database and WAL as they are, then after a checkpoint.
	requireNoSecrets(t, "files", rawFiles(t, h.dbPath), secrets)
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	require.NoError(t, err)
	raw := rawFiles(t, h.dbPath)
	require.True(t, bytes.Contains(raw, []byte("https://idp.example.com")), "the raw bytes do hold the configs")
	requireNoSecrets(t, "files after checkpoint", raw, secrets)
}

// dumpTables renders every column of every row of every table as text.
func dumpTables(ctx context.Context, t *testing.T, db *sql.DB) string {
	t.Helper()
	tables := tableNames(ctx, t, db)
	require.Contains(t, tables, "provider_configurations")
	require.Contains(t, tables, "executor_configurations")

	var out strings.Builder
	for _, table := range tables {
		out.WriteString(dumpTable(ctx, t, db, table))
	}
	return out.String()
}

func tableNames(ctx context.Context, t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table'")
	require.NoError(t, err)
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	return tables
}

func dumpTable(ctx context.Context, t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT * FROM "`+table+`"`) //nolint:gosec // names from sqlite_master
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			fmt.Fprintf(&out, "%s.%s=%v\n", table, cols[i], v)
		}
	}
	require.NoError(t, rows.Err())
	return out.String()
}

// rawFiles concatenates the database file and its WAL, when present.
func rawFiles(t *testing.T, dbPath string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{dbPath, dbPath + "-wal"} {
		b, err := os.ReadFile(filepath.Clean(p))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		all = append(all, b...)
	}
	require.NotEmpty(t, all)
	return all
}

func requireNoSecrets(t *testing.T, where string, data []byte, secrets []string) {
	t.Helper()
	for _, sec := range secrets {
		for _, form := range []string{sec, base64.StdEncoding.EncodeToString([]byte(sec)), hex.EncodeToString([]byte(sec))} {
			require.False(t, bytes.Contains(data, []byte(form)), "%s hold %q (as %q)", where, sec, form)
		}
	}
}

// s2 finds the planted secret named name.
func s2(secrets []string, name string) string {
	for _, s := range secrets {
		if strings.Contains(s, "-"+name+"-") {
			return s
		}
	}
	panic("no secret " + name)
}
