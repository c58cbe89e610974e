package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

const corsOrigin = "https://editor.example"

// needsNoExposure tells the response headers the document declares that
// a cross-origin script either reads without their being exposed (the
// CORS-safelisted ones) or never reads: the CSP of the same-origin /docs
// page, and CORS's own.
func needsNoExposure(name string) bool {
	switch strings.ToLower(name) {
	case "cache-control", "content-language", "content-length", "content-type", "expires", "last-modified", "pragma",
		"content-security-policy":
		return true
	}
	return strings.HasPrefix(strings.ToLower(name), "access-control-")
}

// contractHeaders lists the request headers the OpenAPI document says a
// client sends (header parameters, the credentials of its security
// schemes, and the body's Content-Type and Content-Encoding) and the
// response headers it says a client gets.
func contractHeaders(t *testing.T) (request, response []string) {
	t.Helper()
	c, err := loadContract()
	require.NoError(t, err)
	add := func(list *[]string, name string) {
		if !slices.ContainsFunc(*list, func(s string) bool { return strings.EqualFold(s, name) }) {
			*list = append(*list, name)
		}
	}
	request = []string{"Content-Type", "Content-Encoding"}
	for _, s := range c.doc.Components.SecuritySchemes {
		switch {
		case s.Value.Type == "apiKey" && s.Value.In == "header":
			add(&request, s.Value.Name)
		case s.Value.Type == "http" || s.Value.Type == "openIdConnect" || s.Value.Type == "oauth2":
			add(&request, "Authorization")
		}
	}
	responses := func(rs map[string]*openapi3.ResponseRef) {
		for _, r := range rs {
			for name := range r.Value.Headers {
				if !needsNoExposure(name) {
					add(&response, name)
				}
			}
		}
	}
	for _, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value.In == openapi3.ParameterInHeader {
					add(&request, p.Value.Name)
				}
			}
			responses(op.Responses.Map())
		}
	}
	responses(c.doc.Components.Responses)
	return request, response
}

// A browser on another origin sends only the request headers a preflight
// allows and lets a script read only the response headers the server
// exposes. Every header the contract has a client send or read must be
// among them: without If-Match allowed and ETag exposed no cross-origin
// write could be conditional, and without Location a client could not
// find what it created (found by a defect hunt; the reference's own CORS
// defect was headers missing from these lists).
func TestCORSCoversTheContractHeaders(t *testing.T) {
	t.Parallel()
	request, response := contractHeaders(t)
	for _, must := range []string{"If-Match", "Idempotency-Key", "X-API-Key", "Authorization"} {
		require.Contains(t, request, must, "the scan of the document must find %s", must)
	}
	for _, must := range []string{"ETag", "Location", "X-Request-Id", "Retry-After"} {
		require.Contains(t, response, must, "the scan of the document must find %s", must)
	}
	h := newHarness(t, map[string]string{"CORS_ALLOWED_ORIGINS": corsOrigin})

	pre := h.do("OPTIONS", "/v1/workflows/00000000-0000-0000-0000-000000000001", nil, "Origin", corsOrigin,
		"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", strings.ToLower(strings.Join(request, ",")))
	require.Equal(t, http.StatusNoContent, pre.status)
	allowed := strings.Split(strings.ToLower(pre.header.Get("Access-Control-Allow-Headers")), ",")
	for _, name := range request {
		require.Contains(t, allowed, strings.ToLower(name), "request header %s is not allowed cross-origin", name)
	}

	r := h.do("GET", "/v1/workflows", nil, "Origin", corsOrigin)
	h.expect(r, http.StatusOK, "")
	exposed := strings.Split(strings.ToLower(r.header.Get("Access-Control-Expose-Headers")), ",")
	for _, name := range response {
		require.Contains(t, exposed, strings.ToLower(name), "response header %s is not exposed cross-origin", name)
	}
}

// The whole optimistic-concurrency round trip from another origin, as a
// browser editor does it: create (Location), read (ETag), preflight a PUT
// carrying If-Match, and the conditional PUT itself.
func TestCORSConditionalWriteFromAnotherOrigin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"CORS_ALLOWED_ORIGINS": corsOrigin})
	exposed := func(r response) []string {
		return strings.Split(strings.ToLower(r.header.Get("Access-Control-Expose-Headers")), ",")
	}

	created := h.do("POST", "/v1/workflows", linear("cors-etag"), "Origin", corsOrigin)
	id := h.expect(created, http.StatusCreated, "")["workflowId"].(string)
	require.Equal(t, "/v1/workflows/"+id, created.header.Get("Location"))
	require.Contains(t, exposed(created), "location")

	read := h.do("GET", "/v1/workflows/"+id, nil, "Origin", corsOrigin)
	h.expect(read, http.StatusOK, "")
	etag := read.header.Get("ETag")
	require.NotEmpty(t, etag)
	require.Contains(t, exposed(read), "etag")

	pre := h.do("OPTIONS", "/v1/workflows/"+id, nil, "Origin", corsOrigin,
		"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type,if-match")
	require.Equal(t, http.StatusNoContent, pre.status)
	require.Contains(t, strings.Split(strings.ToLower(pre.header.Get("Access-Control-Allow-Headers")), ","), "if-match")

	put := h.do("PUT", "/v1/workflows/"+id, linear("cors-etag-2"), "Origin", corsOrigin, "If-Match", etag)
	h.expect(put, http.StatusOK, "")
	require.NotEqual(t, etag, put.header.Get("ETag"))
	stale := h.do("PUT", "/v1/workflows/"+id, linear("cors-etag-3"), "Origin", corsOrigin, "If-Match", etag)
	h.expect(stale, http.StatusPreconditionFailed, "FLK-0013")
}
