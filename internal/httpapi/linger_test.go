package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A refusal sent before the request was read reaches a client that is still
// sending it: a header over the read buffer is a 431, a body over the limit
// a 413, never "connection reset by peer". The sizes exceed what the
// kernel's buffers take while the server reads nothing more, so the client
// is mid-write when the server closes.
func TestRefusalsReachClientsStillSending(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	header := strings.Repeat("h", 2<<20)
	body := `{"name":"` + strings.Repeat("b", 3<<20) + `"}`
	for range 5 {
		r := h.do("GET", "/v1/workflows", nil, "X-Pad", header)
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, r.status)
		r = h.do("POST", "/v1/workflows", body)
		require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%s", r.body)
	}
	require.Empty(t, h.expect(h.do("GET", "/v1/workflows", nil), http.StatusOK, "")["items"], "nothing was created")
}
