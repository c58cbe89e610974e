package httpapi_test

// Strict input (issue 10): a NUL character or invalid UTF-8 anywhere in a
// request is a 400 naming the field, checked at the HTTP boundary, so both
// stores answer alike (PostgreSQL refuses such text, SQLite would store
// it) and nothing is written. The store's own refusal (ErrUnstorable) is
// covered on both databases by the conformance suite.

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// rawRequest sends request bytes as they are (no client-side checks) and
// returns the status and body of the answer.
func rawRequest(t *testing.T, base, request string) (int, string) {
	t.Helper()
	conn, err := new(net.Dialer).DialContext(context.Background(), "tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = conn.Write([]byte(request))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// refused asserts a 400 with code whose message names field.
func (h *harness) refused(r response, code, field string) {
	h.t.Helper()
	m := h.expect(r, http.StatusBadRequest, code)
	require.Contains(h.t, m["message"], field, string(r.body))
}

func TestStrictTextInBodies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const nul, bad = `\u0000`, "\xff" // a JSON escape of U+0000; a byte that is never UTF-8

	for _, tc := range []struct{ name, body, field string }{
		{"NUL in the name", `{"name": "a` + nul + `b"}`, `"name"`},
		{"invalid UTF-8 in the name", `{"name": "a` + bad + `b"}`, `"name"`},
		{"invalid UTF-8 in the description", `{"name": "ok", "description": "caf` + bad + `"}`, `"description"`},
		{"NUL in node data", `{"name": "ok", "nodes": [{"id": "t", "type": "trigger"},
			{"id": "a", "type": "action", "data": {"note": "x` + nul + `"}}]}`, `"nodes[1].data.note"`},
		{"invalid UTF-8 in a node name", `{"name": "ok", "nodes": [{"id": "t", "type": "trigger", "name": "` + bad + `"}]}`,
			`"nodes[0].name"`},
		{"NUL in a metadata key", `{"name": "ok", "metadata": {"te` + nul + `am": "risk"}}`, `"metadata"`},
		{"invalid UTF-8 in a metadata key", `{"name": "ok", "metadata": {"` + bad + `": 1}}`, `"metadata"`},
		{"NUL in a nested array", `{"name": "ok", "metadata": {"tags": ["a", ["b", "` + nul + `"]]}}`, `"metadata.tags[1][1]"`},
		{"NUL in a top-level key", `{"na` + nul + `me": "x"}`, "the body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			h.refused(h.do("POST", "/v1/workflows", tc.body), "FLK-0001", tc.field)
		})
	}
	// Nothing was written, and neighbours of the refused values are fine:
	// U+FFFD itself, and an escaped backslash before u0000 (text, not NUL).
	require.Empty(t, h.expect(h.do("GET", "/v1/workflows", nil), http.StatusOK, "")["items"])
	h.expect(h.do("POST", "/v1/workflows", `{"name": "caf\ufffd \\u0000"}`), http.StatusCreated, "")
	list := h.expect(h.do("GET", "/v1/workflows", nil), http.StatusOK, "")["items"].([]any)
	require.Equal(t, "caf\ufffd \\u0000", list[0].(map[string]any)["name"])

	// Every body route: provider and executor configurations, PATCH and PUT.
	h.refused(h.do("POST", "/v1/provider-configurations", `{"name": "p", "providerId": "http",
		"config": {"base_url": "https://x.example", "headers": {"X-Team": "r`+nul+`"}}}`), "FLK-0001", `"config.headers.X-Team"`)
	pc := h.createProvider(httpProviderBody("https://x.example"))
	h.refused(h.do("PATCH", "/v1/provider-configurations/"+pc, `{"description": "`+bad+`"}`), "FLK-0001", `"description"`)
	h.refused(h.do("POST", "/v1/executors", `{"name": "e`+bad+`"}`), "FLK-0001", `"name"`)
	wf := h.expect(h.do("POST", "/v1/workflows", linear("text")), http.StatusCreated, "")["workflowId"].(string)
	h.refused(h.do("PUT", "/v1/workflows/"+wf, `{"name": "text", "edges": [{"id": "e`+nul+`"}]}`), "FLK-0001", `"edges[0].id"`)
	h.refused(h.do("POST", "/v1/workflows/"+wf+"/clone", `{"name": "`+nul+`"}`), "FLK-0001", `"name"`)
}

func TestStrictTextInExecutionsAndWebhooks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	body := linear("hooked")
	body["nodes"].([]map[string]any)[0]["data"] = map[string]any{"triggerType": "webhook", "path": "/strict",
		"method": "POST", "verify_token": "tok-123456"}
	wf := h.expect(h.do("POST", "/v1/workflows", body), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+wf+"/activate", nil), http.StatusOK, "")
	start := "/v1/workflows/" + wf + "/executions"
	key := func() []string { return []string{"Idempotency-Key", uuid.NewString()} }

	h.refused(h.do("POST", start, `{"inputData": {"a": {"b": "x\u0000"}}}`, key()...), "FLK-0001", `"inputData.a.b"`)
	h.refused(h.do("POST", start, "{\"inputData\": {\"k\xff\": 1}}", key()...), "FLK-0001", `"inputData"`)
	// The Idempotency-Key header is stored: the same rule, its own code.
	h.refused(h.do("POST", start, `{"inputData": {}}`, "Idempotency-Key", "k\xff"), "FLK-0509", "Idempotency-Key")
	status, raw := rawRequest(t, h.base, "POST "+start+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Idempotency-Key: k\x00y\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
	require.Less(t, status, 500, raw) // fasthttp may refuse a NUL in a header line itself
	require.GreaterOrEqual(t, status, 400, raw)
	require.Contains(t, raw, `"code"`, raw)

	// Webhooks: the query and the headers the input keeps are refused before
	// the token is checked (the caller here has none), the body after it,
	// in the reference's order (404, 401, then 400 for the body); never a 500.
	hook := "/v1/webhooks/strict"
	token := []string{"X-Webhook-Token", "tok-123456"}
	h.refused(h.do("POST", hook, `{"note": "\u0000"}`, token...), "FLK-0001", `"note"`)
	h.refused(h.do("POST", hook, "{\"note\": \"\xfe\"}", token...), "FLK-0001", `"note"`)
	h.expect(h.do("POST", hook, `{"note": "\u0000"}`), http.StatusUnauthorized, "FLK-0362")
	h.refused(h.do("POST", hook+"?q=%00", nil), "FLK-0304", `"q"`)
	h.refused(h.do("POST", hook+"?q=%FF", nil), "FLK-0304", `"q"`)
	h.refused(h.do("POST", hook, nil, "X-Client", "caf\xe9"), "FLK-0001", `"X-Client"`)
	status, raw = rawRequest(t, h.base, "POST "+hook+" HTTP/1.1\r\nHost: x\r\nX-Client: a\x00b\r\nConnection: close\r\n\r\n")
	require.Equal(t, http.StatusBadRequest, status, raw)
	require.Contains(t, raw, `\"X-Client\"`)
	status, raw = rawRequest(t, h.base, "POST /v1/webhooks/str\xffict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	require.Equal(t, http.StatusBadRequest, status, raw)
	require.Contains(t, raw, "path")
	// With the token, the same request that was refused for its text only runs.
	r := h.do("POST", hook+"?q=ok", `{"note": "fine"}`, "X-Webhook-Token", "tok-123456", "X-Client", "café")
	h.expect(r, http.StatusCreated, "")
	list := h.expect(h.do("GET", "/v1/executions?workflowId="+wf, nil), http.StatusOK, "")["items"].([]any)
	require.Len(t, list, 1, "only the accepted request started an execution")
}

func TestStrictTextInQueries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, path := range []string{"/v1/workflows", "/v1/provider-configurations", "/v1/executors",
		"/v1/executions", "/v1/audit-events"} {
		for _, q := range []string{"?name=%00", "?name=%FF", "?status=a%00b", "?x%00=1"} {
			r := h.do("GET", path+q, nil)
			m := h.expect(r, http.StatusBadRequest, "FLK-0304")
			require.Contains(t, m["message"], "query parameter", path+q)
		}
	}
	h.refused(h.do("GET", "/v1/workflows?name=%00", nil), "FLK-0304", `"name"`)
	h.refused(h.do("GET", "/v1/executors?cursor=%C3%28", nil), "FLK-0304", `"cursor"`)
	// A valid multi-byte value is a value like any other.
	h.expect(h.do("GET", "/v1/workflows?name=caf%C3%A9", nil), http.StatusOK, "")
}
