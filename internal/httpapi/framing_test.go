package httpapi_test

// Requests refused before routing (framing.go): a body without a single
// framing (request smuggling, RFC 9112 §6) and a request the server cannot
// read. Each is 400 FLK-0001 in the standard shape, quotes nothing of the
// request, closes the connection, and is one the OpenAPI document lists
// (the harness checks every answer against it, these included).

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// exchange is what the server answered to one raw request on a fresh
// connection, and whether it closed the connection after it.
type exchange struct {
	out    string
	closed bool // the server closed: the read ended before the deadline
}

// sendRaw writes request on a fresh connection and reads everything the
// server sends back until it closes the connection or wait passes.
func sendRaw(t *testing.T, base, request string, wait time.Duration) exchange {
	t.Helper()
	conn, err := new(net.Dialer).DialContext(context.Background(), "tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(wait)))
	_, err = conn.Write([]byte(request))
	require.NoError(t, err)
	out, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		require.NoError(t, err)
	}
	return exchange{out: string(out), closed: err == nil}
}

// refusal asserts that x is exactly one answer, a 400 FLK-0001 whose
// message is msg, after which the server closed the connection.
func (x exchange) refusal(t *testing.T, msg string) {
	t.Helper()
	require.True(t, strings.HasPrefix(x.out, "HTTP/1.1 400 "), x.out)
	require.Equal(t, 1, strings.Count(x.out, "HTTP/1.1 "), "one request, one answer:\n%s", x.out)
	require.True(t, x.closed, "the connection stays open after:\n%s", x.out)
	_, body, ok := strings.Cut(x.out, "\r\n\r\n")
	require.True(t, ok, x.out)
	var e map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &e), x.out)
	require.Equal(t, map[string]string{"code": "FLK-0001", "title": "Bad Request", "message": msg}, e)
}

// listed is how many workflows are named name.
func (h *harness) listed(name string) int {
	h.t.Helper()
	items, _ := h.expect(h.do("GET", "/v1/workflows?name="+name, nil), http.StatusOK, "")["items"].([]any)
	return len(items)
}

const postWorkflow = "POST /v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"

// Two Content-Length values that differ give a request two framings (fasthttp
// took the last; a proxy in front may take the first, 0, and pass the 18
// bytes on as a request of its own): 400, nothing created, connection closed.
// Repeating the same value is one framing, and is served.
func TestConflictingContentLengthsAreRefused(t *testing.T) {
	h := newHarness(t, nil)
	x := sendRaw(t, h.base, postWorkflow+"Content-Length: 0\r\nContent-Length: 18\r\n\r\n"+`{"name":"smuggle"}`, 3*time.Second)
	x.refusal(t, "malformed HTTP request: Content-Length is given twice with different values")
	require.Zero(t, h.listed("smuggle"))

	x = sendRaw(t, h.base, postWorkflow+"Content-Length: 18\r\ncontent-length: 18\r\nConnection: close\r\n\r\n"+
		`{"name":"repeats"}`, 3*time.Second)
	require.True(t, strings.HasPrefix(x.out, "HTTP/1.1 201 "), x.out)
	require.Equal(t, 1, h.listed("repeats"))
}

// Content-Length with Transfer-Encoding: chunked (CL.TE smuggling): fasthttp
// frames by the chunks, a proxy in front may frame by the 4 bytes and send
// the rest, here a GET /v1/me, as a further request. It is refused and the
// connection closed: the GET is never served, nothing is created.
func TestContentLengthWithTransferEncodingIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	x := sendRaw(t, h.base, postWorkflow+"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"13\r\n{\"name\":\"smuggle3\"}\r\n0\r\n\r\nGET /v1/me HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second)
	x.refusal(t, "malformed HTTP request: Content-Length and Transfer-Encoding are both given")
	require.Zero(t, h.listed("smuggle3"))

	// Either order, any case, on a route that takes no body.
	x = sendRaw(t, h.base, "GET /v1/me HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\nCONTENT-LENGTH: 0\r\n\r\n0\r\n\r\n", 3*time.Second)
	x.refusal(t, "malformed HTTP request: Content-Length and Transfer-Encoding are both given")
}

// A Transfer-Encoding other than one chunked (fasthttp reads any coding but
// identity as chunked, a proxy that does not know "xchunked" sees a request
// without a body) is refused the same way; chunked alone is served.
func TestTransferEncodingMustBeChunkedOnce(t *testing.T) {
	h := newHarness(t, nil)
	chunk := "13\r\n{\"name\":\"chunked1\"}\r\n0\r\n\r\n"
	for _, te := range []string{"Transfer-Encoding: xchunked\r\n", "Transfer-Encoding: gzip\r\n",
		"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding: identity\r\n"} {
		x := sendRaw(t, h.base, postWorkflow+te+"\r\n"+chunk, 3*time.Second)
		x.refusal(t, "malformed HTTP request: Transfer-Encoding must be chunked, once")
	}
	require.Zero(t, h.listed("chunked1"))

	x := sendRaw(t, h.base, postWorkflow+"Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n"+chunk, 3*time.Second)
	require.True(t, strings.HasPrefix(x.out, "HTTP/1.1 201 "), x.out)
	require.Equal(t, 1, h.listed("chunked1"))
}

// A request the server cannot read is answered 400 FLK-0001 with fixed
// text: fasthttp's own message quotes its read buffer, and with it the
// caller's X-API-Key or bearer token.
func TestUnreadableRequestQuotesNothingOfIt(t *testing.T) {
	const key = "framing-api-key-0123456789abcdef"
	h := newHarness(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": key})
	for _, req := range []string{
		"GET /v1/workflows HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key + "\r\nBad Header\r\nAccept: */*\r\n\r\n",
		"POST /v1/workflows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nContent-Length: 1x\r\n\r\n",
		"POST /v1/workflows HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + key + "\r\n0\r\n\r\n",
	} {
		x := sendRaw(t, h.base, req, 3*time.Second)
		x.refusal(t, "malformed HTTP request")
		require.NotContains(t, x.out, key)
	}
}

// The 400 of a request the server cannot read, answered before routing, is
// one the OpenAPI document lists with the other unrouted answers: the
// harness fails any test that gets an answer the document does not declare.
func TestUnreadableRequestIsDocumented(t *testing.T) {
	h := newHarness(t, nil)
	sendRaw(t, h.base, "GET /v1/workflows HTTP/1.1\r\nHost: x\r\nBad Header\r\nAccept: */*\r\n\r\n", 3*time.Second).
		refusal(t, "malformed HTTP request")
	// A multipart body fasthttp fails to parse before any route.
	h.expect(h.do("POST", "/v1/workflows", `{"name":"x"}`, "Content-Type", "multipart/form-data; boundary=x"),
		http.StatusBadRequest, "FLK-0001")
	require.Empty(t, h.contract.drain())
}
