package httpapi_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

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

// Shutdown closes idle keep-alive connections while their server goroutine
// is blocked reading the next request; the lingering close must not leave it
// blocked (nor two readers on one socket) until the client hangs up. This
// client never does: shutdown is still prompt.
func TestShutdownClosesIdleConnectionsAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	c, err := new(net.Dialer).DialContext(t.Context(), "tcp", strings.TrimPrefix(h.base, "http://"))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	began := time.Now()
	require.NoError(t, h.app.ShutdownWithTimeout(3*time.Second))
	require.Less(t, time.Since(began), time.Second)
}
