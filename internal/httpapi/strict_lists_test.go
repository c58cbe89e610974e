package httpapi_test

// Strict input (issue 10): one paging parser and one set of codes for every
// list; framework refusals (431, 408, unknown methods) in the error shape
// with codes of their own.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStrictPagingIsOneParser(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	lists := []string{"/v1/workflows", "/v1/provider-configurations", "/v1/executors", "/v1/executions", "/v1/audit-events"}
	for _, path := range lists {
		for q, code := range map[string]string{
			"limit=0": "FLK-0304", "limit=101": "FLK-0304", "limit=1000": "FLK-0304", "limit=-5": "FLK-0304",
			"limit=ten": "FLK-0304", "sortOrder=sideways": "FLK-0310", "sortOrder=": "", "sortOrder=asc": "",
			"sortOrder=DESC": "", "limit=100": "", "cursor=%25%25": "INVALID_CURSOR",
		} {
			status := http.StatusBadRequest
			if code == "" {
				status = http.StatusOK
			}
			m := h.expect(h.do("GET", path+"?"+q, nil), status, code)
			if code == "FLK-0304" {
				require.Contains(t, m["message"], "limit", path+"?"+q)
			}
		}
	}
	// The audit list's own default page size (20, the reference's) is kept.
	for i := range 25 {
		h.expect(h.do("POST", "/v1/workflows", map[string]any{"name": fmt.Sprintf("w-%d", i)}), http.StatusCreated, "")
	}
	page := h.expect(h.do("GET", "/v1/audit-events", nil), http.StatusOK, "")
	require.Len(t, page["items"], 20)
	require.Equal(t, true, page["hasMore"])
}

func TestStrictNilWorkflowFilterListsNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	wf := h.activate([]map[string]any{triggerNode("t"), outputNode("out", map[string]any{"ok": true})},
		[]map[string]any{edge("t", "out")})
	h.startAsync(wf, map[string]any{})
	require.Len(t, h.expect(h.do("GET", "/v1/executions", nil), http.StatusOK, "")["items"], 1)
	page := h.expect(h.do("GET", "/v1/executions?workflowId=00000000-0000-0000-0000-000000000000", nil), http.StatusOK, "")
	require.Empty(t, page["items"])
	require.Equal(t, false, page["hasMore"])
	h.expect(h.do("GET", "/v1/executions?workflowId=nope", nil), http.StatusBadRequest, "FLK-0002")
}

func TestStrictFrameworkRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"HTTP_READ_TIMEOUT": "300ms"})

	// A method Fiber does not know: the error shape, 405 FLK-0004.
	for _, method := range []string{"PROPFIND", "BREW"} {
		r := h.do(method, "/v1/workflows", nil)
		m := h.expect(r, http.StatusMethodNotAllowed, "FLK-0004")
		require.Contains(t, m["message"], method)
		require.NotEmpty(t, r.header.Get("X-Request-Id"))
	}

	// Headers larger than the server reads: 431 with its own code.
	status, body := rawRequest(t, h.base, "GET /v1/workflows HTTP/1.1\r\nHost: x\r\nX-Big: "+
		strings.Repeat("a", 64<<10)+"\r\nConnection: close\r\n\r\n")
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, status, body)
	require.Contains(t, body, `"code":"FLK-0006"`)
	require.NotContains(t, body, "FLK-0001")

	// A request that does not arrive in time: 408 with its own code.
	status, body = rawRequest(t, h.base, "POST /v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\n\r\n{\"name\":")
	if status != 0 {
		require.Equal(t, http.StatusRequestTimeout, status, body)
		require.Contains(t, body, `"code":"FLK-0007"`)
	}
}
