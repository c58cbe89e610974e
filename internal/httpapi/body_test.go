package httpapi_test

// Compressed request bodies (body.go, requestBody): inflated within the
// route's body limit, never past it; stacked or unknown codings refused.

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// compress is data in one content coding.
func compress(t *testing.T, coding string, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "deflate":
		w = zlib.NewWriter(&b)
	case "br":
		w = brotli.NewWriter(&b)
	default:
		t.Fatalf("no coding %q", coding)
	}
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.String()
}

// A body in one of gzip (x-gzip) and deflate is read as what it
// inflates to, on every route that reads a body; identity is no coding.
func TestCompressedBodiesAreInflated(t *testing.T) {
	h := newHarness(t, nil)
	for _, c := range []struct{ header, coding string }{
		{"gzip", "gzip"}, {"x-gzip", "gzip"}, {"deflate", "deflate"}, {" GZIP ", "gzip"},
		{"identity, gzip", "gzip"},
	} {
		wf := linear("compressed-" + c.coding + "-" + uuid.NewString()[:8])
		raw, err := json.Marshal(wf)
		require.NoError(t, err)
		got := h.expect(h.do("POST", "/v1/workflows", compress(t, c.coding, raw), "Content-Encoding", c.header),
			http.StatusCreated, "")
		require.Equal(t, 1, h.listed(wf["name"].(string)), "Content-Encoding %q: %v", c.header, got)
	}
	h.expect(h.do("POST", "/v1/workflows", linear("identity"), "Content-Encoding", "identity"), http.StatusCreated, "")
}

// Several codings ("gzip, gzip": a few kilobytes that inflate to
// gigabytes), an unknown one, and a body that does not inflate are 400
// FLK-0001, as a body that is not JSON (not 415: docs/decisions.md).
func TestStackedOrUnknownContentEncodingsAreRefused(t *testing.T) {
	h := newHarness(t, nil)
	body := `{"name":"encoded"}`
	twice := compress(t, "gzip", []byte(compress(t, "gzip", []byte(body))))
	for _, c := range []struct{ body, coding, message string }{
		{twice, "gzip, gzip", "invalid request body: Content-Encoding may name one coding (gzip or deflate), not several"},
		{twice, "gzip,gzip", "invalid request body: Content-Encoding may name one coding (gzip or deflate), not several"},
		{body, "zstd", "invalid request body: Content-Encoding must be gzip or deflate"},
		{body, "compress", "invalid request body: Content-Encoding must be gzip or deflate"},
		{body, "gzip", "invalid request body: it is not valid gzip data"},
		{compress(t, "gzip", []byte(body))[:20], "gzip", "invalid request body: it is not valid gzip data"},
		{compress(t, "gzip", []byte(body)), "deflate", "invalid request body: it is not valid deflate data"},
		{compress(t, "br", []byte(body)), "br", "invalid request body: Content-Encoding must be gzip or deflate"},
	} {
		got := h.expect(h.do("POST", "/v1/workflows", c.body, "Content-Encoding", c.coding), http.StatusBadRequest, "FLK-0001")
		require.Equal(t, c.message, got["message"], "Content-Encoding %q", c.coding)
	}
	// Two Content-Encoding lines are stacked codings too.
	req, err := http.NewRequestWithContext(t.Context(), "POST", h.base+"/v1/workflows", bytes.NewBufferString(twice))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("Content-Encoding", "gzip")
	req.Header.Add("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Zero(t, h.listed("encoded"))
}

// A body that inflates past the route's limit is refused as one sent that
// large is, with the route's code, and costs a few MiB at most to find
// out: c.Body() inflated it whole, with no limit, before any handler could
// look at its size (a 64 KiB gzip request made 384 MiB of allocations).
// The callback route needs no credential.
func TestCompressedBodyIsBoundedByTheRouteLimit(t *testing.T) {
	h := newHarness(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": "body-api-key-0123456789abcdef"})
	zeros := make([]byte, 32<<20)
	for _, coding := range []string{"gzip", "deflate"} {
		bomb := compress(t, coding, zeros)
		require.Less(t, len(bomb), 256<<10, "the request is far under every body limit")
		for _, c := range []struct{ path, code, message string }{
			{"/v1/callbacks/not-a-token", "FLK-0005", "request body exceeds the limit of 1 MiB"},
			{"/v1/webhooks/nowhere", "FLK-0363", "webhook body exceeds 1 MiB"},
			{"/v1/workflows/" + uuid.NewString() + "/executions", "FLK-0506", "execution request body exceeds 1 MiB"},
			{"/v1/workflows", "FLK-0005", "request body exceeds the limit of 1 MiB"},
		} {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := h.do("POST", c.path, bomb, "Content-Encoding", coding, "X-API-Key", "body-api-key-0123456789abcdef")
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			require.Less(t, allocated, uint64(24<<20), "POST %s (%s, %d bytes): allocated %d MiB, answered %d %s",
				c.path, coding, len(bomb), allocated>>20, r.status, r.body)
			got := h.expect(r, http.StatusRequestEntityTooLarge, c.code)
			require.Equal(t, c.message, got["message"])
		}
	}
}

// The webhook and execution routes read compressed bodies too. A webhook
// answers the route and its token before the body (the reference's order:
// 404, then 401, then 400 for the body); only a body over the limit is
// refused before them, as one sent that large is.
func TestCompressedWebhookAndExecutionBodies(t *testing.T) {
	h := newHarness(t, nil)
	id := h.expect(h.do("POST", "/v1/workflows", linear("compressed-hook")), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")

	h.expect(h.do("POST", "/v1/webhooks/tx", compress(t, "gzip", []byte(`{"amount": 10}`)), "Content-Encoding", "gzip"),
		http.StatusCreated, "")
	h.expect(h.do("POST", "/v1/workflows/"+id+"/executions", compress(t, "deflate", []byte(`{"inputData": {"amount": 10}}`)),
		"Content-Encoding", "deflate", "Idempotency-Key", uuid.NewString()), http.StatusCreated, "")

	h.expect(h.do("POST", "/v1/webhooks/nowhere", `{"amount": 10}`, "Content-Encoding", "zstd"), http.StatusNotFound, "FLK-0361")
	h.expect(h.do("POST", "/v1/webhooks/tx", `{"amount": 10}`, "Content-Encoding", "zstd"), http.StatusBadRequest, "FLK-0001")
	h.expect(h.do("POST", "/v1/webhooks/tx", `{"amount": 10}`, "Content-Encoding", "gzip"), http.StatusBadRequest, "FLK-0001")
	h.expect(h.do("POST", "/v1/workflows/"+id+"/executions", `{"inputData": {}}`, "Content-Encoding", "gzip, br",
		"Idempotency-Key", uuid.NewString()), http.StatusBadRequest, "FLK-0001")
}
