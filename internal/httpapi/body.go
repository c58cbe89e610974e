package httpapi

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"flowker/internal/flow"
)

// requestBody is the one way a handler reads its request body; no handler
// calls c.Body(), which inflates a compressed body with no bound (a 64 KiB
// gzip body became 384 MiB of allocations) while the body limits only see
// the bytes on the wire.
//
// Without Content-Encoding (or with identity) it is the body as received,
// not a copy: every caller decodes it into values of its own before the
// handler returns. One coding of gzip (x-gzip) or deflate (zlib, RFC 9110
// §8.4.1.2) is inflated through a reader that stops one byte past the
// route's limit (bodyLimit): a body that inflates past it is refused as one
// sent that large would be, 413 with the route's code. Stacked codings
// ("gzip, gzip": a few kilobytes that inflate to gigabytes), unknown ones,
// and a body that does not inflate are 400 FLK-0001, as a body that is not
// JSON is (docs/decisions.md: 400 rather than 415, as for Content-Type).
// br is refused: its decoder allocates the window the stream declares (up
// to 16 MiB, 18–34 MiB a request measured), on routes that may need no
// credential; gzip and deflate keep 32 KiB.
func requestBody(c *fiber.Ctx) ([]byte, error) {
	raw := c.Request().Body()
	limit, tooLarge := bodyLimit(c)
	codings := contentCodings(c)
	switch {
	case len(codings) == 0 && len(raw) > limit:
		return nil, tooLarge
	case len(codings) == 0:
		return raw, nil
	case len(codings) > 1:
		return nil, flow.Invalidf(flow.CodeInvalidBody,
			"invalid request body: Content-Encoding may name one coding (gzip or deflate), not several")
	}
	var (
		r   io.Reader
		err error
	)
	switch codings[0] {
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(raw))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(raw))
	default:
		return nil, flow.Invalidf(flow.CodeInvalidBody,
			"invalid request body: Content-Encoding must be gzip or deflate")
	}
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(r, int64(limit)+1))
	}
	switch {
	case err != nil: // corrupt or truncated
		return nil, flow.Invalidf(flow.CodeInvalidBody, "invalid request body: it is not valid %s data", codings[0])
	case len(body) > limit:
		return nil, tooLarge
	}
	return body, nil
}

// contentCodings are the request's content codings, in the order they were
// applied, lower case, identity left out, from every Content-Encoding line.
func contentCodings(c *fiber.Ctx) []string {
	var codings []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if !strings.EqualFold(string(k), fiber.HeaderContentEncoding) {
			return
		}
		for _, coding := range strings.Split(string(v), ",") {
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "" && coding != "identity" {
				codings = append(codings, coding)
			}
		}
	})
	return codings
}

// bodyLimit is the route's body limit and its refusal: 1 MiB on executions
// (FLK-0506) and webhooks (FLK-0363), as the reference's, and the server's
// HTTP_MAX_BODY_BYTES everywhere (FLK-0005), which also bounds the two.
// These are the refusals of a body sent over the limit uncompressed
// (describe, and the server's own limit before routing).
func bodyLimit(c *fiber.Ctx) (int, *flow.Error) {
	limit := c.App().Config().BodyLimit
	tooLarge := func(code, what string) *flow.Error {
		return &flow.Error{Kind: flow.KindTooLarge, Code: code, Message: what + humanBytes(limit)}
	}
	switch code := bodyLimitCode(c.Path()); code {
	case "FLK-0506":
		limit = min(limit, executionBodyLimit)
		return limit, tooLarge(code, "execution request body exceeds ")
	case "FLK-0363":
		limit = min(limit, executionBodyLimit)
		return limit, tooLarge(code, "webhook body exceeds ")
	}
	return limit, tooLarge(flow.CodeBodyTooLarge, "request body exceeds the limit of ")
}
