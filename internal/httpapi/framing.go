package httpapi

import (
	"bytes"
	"errors"
	"net"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"flowker/internal/flow"
)

// Requests refused before routing, besides the methods the server does not
// know (answerUnknownMethods): a request it could not read, and one whose
// body has no single framing. Both are 400 FLK-0001 in the standard shape,
// the connection closed after the answer (RFC 9112 §6.3), and the OpenAPI
// document lists them with the other unrouted answers (MalformedRequest).

// errMalformedRequest is what a client is told about a request fasthttp
// could not read (a malformed request line or header, a bad Content-Length,
// a bad chunk, a malformed multipart body): fasthttp's own text quotes its
// read buffer, credentials included (an X-API-Key or bearer token came back
// in the 400). The cause is the client's to find; nothing of it is echoed.
var errMalformedRequest = errors.New("malformed HTTP request")

// hideReadErrors gives the read errors Fiber answers 400 (all but a header
// too large, a timeout, a body over the limit and a method on a GET-only
// server, which describe words itself) errMalformedRequest's fixed text.
func hideReadErrors(app *fiber.App) {
	srv := app.Server()
	refuse := srv.ErrorHandler // Fiber's: it turns err into a *fiber.Error for handleError
	srv.ErrorHandler = func(fctx *fasthttp.RequestCtx, err error) {
		if !describedRefusal(err) {
			err = errMalformedRequest
		}
		refuse(fctx, err)
	}
}

// describedRefusal tells whether Fiber's server error handler answers err
// with a status other than 400 (v2.52 App.serverErrorHandler): 431, 408,
// 413 or 405, whose messages describe writes without err's text.
func describedRefusal(err error) bool {
	var small *fasthttp.ErrSmallBuffer
	var netErr *net.OpError
	return errors.As(err, &small) || errors.As(err, &netErr) && netErr.Timeout() ||
		errors.Is(err, fasthttp.ErrBodyTooLarge) || errors.Is(err, fasthttp.ErrGetOnly) ||
		strings.Contains(err.Error(), "timeout")
}

// framingProblem says why the body of a request with these raw header
// lines has no single framing (RFC 9112 §6), or "": two Content-Length
// values that differ (fasthttp frames by the last one), Content-Length
// together with Transfer-Encoding (fasthttp frames by the chunks), or a
// Transfer-Encoding other than one chunked (fasthttp takes any coding but
// identity for chunked). A proxy in front that frames the body the other way
// would pass the rest as a request of its own: request smuggling. fasthttp
// v1.51.0 reads such requests; v1.76.0 refuses two Content-Length lines and
// closes after Content-Length with Transfer-Encoding, but upgrading it
// changes other answers (a NUL in a header value is refused before a
// webhook can name the header), so the check is here.
func framingProblem(raw []byte) string {
	// One pass over the raw lines, allocating nothing: it runs on every
	// request.
	var length []byte
	lengths, codings, chunked, framing := 0, 0, true, false
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, crByte)
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') { // an obsolete line folding
			if framing { // fasthttp would join it to the value
				return "Content-Length or Transfer-Encoding is folded over lines"
			}
			continue
		}
		name, value, ok := bytes.Cut(line, colon)
		name, value = bytes.TrimSpace(name), bytes.TrimSpace(value)
		switch {
		case !ok:
			framing = false
		case bytes.EqualFold(name, contentLength):
			if lengths > 0 && !bytes.Equal(value, length) {
				return "Content-Length is given twice with different values"
			}
			length, lengths, framing = value, lengths+1, true
		case bytes.EqualFold(name, transferEncoding):
			codings, chunked, framing = codings+1, chunked && bytes.EqualFold(value, chunkedCoding), true
		default:
			framing = false
		}
	}
	switch {
	case codings > 0 && lengths > 0:
		return "Content-Length and Transfer-Encoding are both given"
	case codings > 1 || codings == 1 && !chunked:
		return "Transfer-Encoding must be chunked, once"
	}
	return ""
}

var (
	crByte           = []byte("\r")
	colon            = []byte(":")
	contentLength    = []byte(fiber.HeaderContentLength)
	transferEncoding = []byte(fiber.HeaderTransferEncoding)
	chunkedCoding    = []byte("chunked")
)

// refuseFraming answers a request framingProblem found ambiguous as one the
// server could not read: 400 FLK-0001, nothing of it kept or routed (its
// method and path are dropped, as fasthttp drops a request it cannot
// read), then the connection is closed (RFC 9112 §6.3: whatever the other
// framing would make of the rest is never read as a request), gracefully
// (linger.go).
func (a *api) refuseFraming(app *fiber.App, fctx *fasthttp.RequestCtx, problem string) {
	id := string(fctx.Request.Header.Peek(headerRequestID))
	fctx.Request.Reset()
	fctx.SetConnectionClose()
	lingerAfterClose(fctx)
	c := app.AcquireCtx(fctx)
	defer app.ReleaseCtx(c)
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Set(headerRequestID, id)
	_ = a.handleError(c, flow.Invalidf(flow.CodeInvalidBody, "%v: %s", errMalformedRequest, problem)) // it writes the response itself
}
