package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"flowker/internal/httpapi"
)

// The document loads, validates as OpenAPI 3.1, is what /openapi.json
// serves (to anyone), and says the same as its YAML source.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	c, err := loadContract()
	require.NoError(t, err)
	require.Equal(t, "3.1.0", c.doc.OpenAPI)

	h := newHarness(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": "s3cret"})
	r := h.do("GET", "/openapi.json", nil) // no credentials: public
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, httpapi.OpenAPI(), r.body)
	require.True(t, json.Valid(r.body))

	fromYAML, err := openapi3.NewLoader().LoadFromFile("openapi/openapi.yaml")
	require.NoError(t, err)
	want, err := json.Marshal(fromYAML)
	require.NoError(t, err)
	got, err := json.Marshal(c.doc)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got), "the served JSON must say what openapi.yaml says")
}

// House rules that keep the document usable: unique operation ids and
// summaries; every response declares X-Request-Id; every error answers the
// standard error shape; every /v1 operation lists its auth and server errors.
func TestOpenAPIConventions(t *testing.T) {
	t.Parallel()
	c, err := loadContract()
	require.NoError(t, err)
	ids := map[string]string{}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			require.NotEmpty(t, op.OperationID, where)
			require.NotContains(t, ids, op.OperationID, "%s repeats %s's operationId", where, ids[op.OperationID])
			ids[op.OperationID] = where
			require.NotEmpty(t, op.Summary, where)
			for status, resp := range op.Responses.Map() {
				require.Contains(t, resp.Value.Headers, "X-Request-Id", "%s %s", where, status)
				if status[0] != '4' && status[0] != '5' || len(resp.Value.Content) == 0 || slices.Contains(op.Tags, "Health") {
					continue // probes answer 503 with their own body
				}
				schema := resp.Value.Content.Get("application/json").Schema
				require.True(t, refersTo(schema, "#/components/schemas/Error"),
					"%s %s: an error response must use the Error schema", where, status)
			}
			// Under /v1, security: [] (no credential asked) is the callback
			// route's alone: its token is its credential.
			open := op.Security != nil && len(*op.Security) == 0
			if open && strings.HasPrefix(path, "/v1/") {
				require.Equal(t, "/v1/callbacks/{token}", path, "%s asks no credential", where)
			}
			if strings.HasPrefix(path, "/v1/") {
				for _, status := range []string{"401", "403", "500", "503"} {
					if status == "403" && path == "/v1/me" || open && status[0] == '4' {
						continue // a credential is enough: no permission to lack; or none is asked
					}
					require.NotNil(t, op.Responses.Value(status), "%s must document %s", where, status)
				}
			}
		}
	}
}

func refersTo(s *openapi3.SchemaRef, ref string) bool {
	return s != nil && (s.Ref == ref || s.Value != nil && len(s.Value.AllOf) > 0 && s.Value.AllOf[0].Ref == ref)
}

// The router and the document list the same routes: a route the code
// serves but the document omits (or the other way round) fails here.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	c, err := loadContract()
	require.NoError(t, err)
	documented := map[string]bool{}
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+shape(path)] = true
		}
	}
	served := routerOperations(h.app.GetRoutes(true), documented)
	var undocumented, unserved []string
	for op := range served {
		if !documented[op] {
			undocumented = append(undocumented, op)
		}
	}
	for op := range documented {
		if !served[op] {
			unserved = append(unserved, op)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(unserved)
	require.Empty(t, undocumented, "routes the router serves that openapi/openapi.yaml does not document")
	require.Empty(t, unserved, "operations openapi/openapi.yaml documents that the router does not serve")
}

// routerOperations lists the app's routes as "METHOD /path/{}" keys. Fiber
// registers a HEAD route beside every GET one; such a HEAD route (same
// handler as the GET) is GET's, listed only where the document describes
// HEAD itself (webhooks take any method), while a HEAD route of its own
// (/v1/executors) is always listed. CONNECT (webhooks) has no place in
// OpenAPI.
func routerOperations(routes []fiber.Route, documented map[string]bool) map[string]bool {
	getHandler := map[string]uintptr{}
	for _, r := range routes {
		if r.Method == http.MethodGet {
			getHandler[r.Path] = handlerOf(r)
		}
	}
	out := map[string]bool{}
	for _, r := range routes {
		switch {
		case r.Method == http.MethodConnect:
			continue
		case r.Method == http.MethodHead && getHandler[r.Path] == handlerOf(r) && !documented["HEAD "+shape(r.Path)]:
			continue // the GET route's own HEAD
		}
		out[r.Method+" "+shape(r.Path)] = true
	}
	return out
}

func handlerOf(r fiber.Route) uintptr {
	return reflect.ValueOf(r.Handlers[len(r.Handlers)-1]).Pointer()
}

var paramSegment = regexp.MustCompile(`^(:.*|\*|\{.*\})$`)

// shape writes a Fiber or OpenAPI path with every parameter as {}.
func shape(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		if paramSegment.MatchString(s) {
			segs[i] = "{}"
		}
	}
	return "/" + strings.Join(segs, "/")
}

// The checker finds each kind of mismatch and names the operation.
func TestContractCheck(t *testing.T) {
	t.Parallel()
	c, err := loadContract()
	require.NoError(t, err)
	id := "0192f0c4-5c0d-7e2a-8b1c-0d1e2f3a4b5c"
	check := func(method, path string, status int, header http.Header, body string) error {
		req, err := http.NewRequestWithContext(context.Background(), method, "http://flowker"+path, nil)
		require.NoError(t, err)
		if header == nil {
			header = http.Header{"X-Request-Id": {"req-1"}}
		}
		if body != "" && header.Get("Content-Type") == "" {
			header.Set("Content-Type", "application/json")
		}
		return c.check(req, path, status, header, []byte(body), testRoutes([]fiber.Route{{Method: "GET", Path: "/probe/:x"}}))
	}
	notFound := `{"code":"FLK-0100","title":"Not Found","message":"workflow not found"}`

	require.NoError(t, check("GET", "/v1/workflows/"+id, 404, nil, notFound))
	require.NoError(t, check("GET", "/V1/Workflows/"+id+"/", 404, nil, notFound), "routed as Fiber routes")
	err = check("GET", "/v1/workflows/"+id, 418, nil, notFound)
	require.ErrorContains(t, err, "GET /v1/workflows/{id} (getWorkflow) answered 418: status 418 is not documented")
	err = check("GET", "/v1/workflows/"+id, 404, nil, `{"code":"FLK-0500","title":"Not Found","message":"x"}`)
	require.ErrorContains(t, err, "answered 404: response body doesn't match schema")
	require.ErrorContains(t, err, "FLK-0500", "the body is quoted")
	err = check("GET", "/v1/workflows/"+id, 200, nil, `{"id":"`+id+`","name":"x"}`)
	require.ErrorContains(t, err, "answered 200: response body doesn't match schema")
	err = check("GET", "/v1/workflows/"+id, 404, http.Header{}, notFound)
	require.ErrorContains(t, err, `response header "X-Request-Id" missing`)
	err = check("DELETE", "/v1/workflows/"+id, 204, nil, "No Content")
	require.ErrorContains(t, err, "a body was sent but the response documents none")

	// Created: Location is required.
	created := `{"workflowId":"` + id + `","version":"1","revision":1,"status":"draft","createdAt":"2026-03-20T12:00:00Z"}`
	err = check("POST", "/v1/workflows", 201, nil, created)
	require.ErrorContains(t, err, `response header "Location" missing`)
	require.NoError(t, check("POST", "/v1/workflows", 201,
		http.Header{"X-Request-Id": {"req-1"}, "Location": {"/v1/workflows/" + id}}, created))

	// HEAD: the status and headers count, the body is not sent.
	require.NoError(t, check("HEAD", "/v1/executors/"+id, 404, nil, ""))
	require.ErrorContains(t, check("HEAD", "/v1/executors/"+id, 409, nil, ""), "status 409 is not documented")
	require.NoError(t, check("HEAD", "/v1/workflows/"+id, 200, nil, ""), "HEAD of a GET route")

	// A path the document does not route: only the framework's errors.
	require.NoError(t, check("GET", "/nope", 404, nil, `{"code":"FLK-0003","title":"Not Found","message":"no route"}`))
	require.ErrorContains(t, check("GET", "/nope", 200, nil, `{}`), "GET /nope (no operation) answered 200")
	require.NoError(t, check("PATCH", "/v1/workflows", 405,
		nil, `{"code":"FLK-0004","title":"Method Not Allowed","message":"m"}`))

	// A test's own route: anything but an error goes; errors keep the shape.
	require.NoError(t, check("GET", "/probe/1", 200, http.Header{"Content-Type": {"text/plain"}}, "ok"))
	require.NoError(t, check("GET", "/probe/1", 500, nil, `{"code":"FLK-9999","title":"Internal Server Error","message":"m"}`))
	require.ErrorContains(t, check("GET", "/probe/1", 500, nil, `{"error":"boom"}`), "(test-only route) answered 500")
}

// The harness's server checks every response it sends, those of requests
// made without harness.do and the framework's own refusals included, and
// the mismatch waits for the test that made the request.
func TestContractWatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"HTTP_MAX_BODY_BYTES": "4096"}, func(app *fiber.App) {
		app.Get("/contract-probe", func(c *fiber.Ctx) error { return c.Status(http.StatusInternalServerError).SendString("oops") })
	})
	// send bypasses harness.do: it returns the status and the request id.
	send := func(path string, body []byte) (int, string) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, h.base+path, bytes.NewReader(body))
		require.NoError(t, err)
		if body == nil {
			req.Method = http.MethodGet
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header.Get("X-Request-Id")
	}

	_, id := send("/contract-probe", nil)
	failures := h.contract.take(id)
	require.Len(t, failures, 1)
	require.Contains(t, failures[0], "GET /contract-probe (test-only route) answered 500")
	require.Empty(t, h.contract.drain(), "taken once")

	// Refused by fasthttp before routing (body over the limit): still seen,
	// and as documented.
	seen := h.contract.seen.Load()
	status, _ := send("/v1/workflows", bytes.Repeat([]byte(" "), 8192))
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	require.Equal(t, seen+1, h.contract.seen.Load())
	require.Empty(t, h.contract.drain())
	status, _ = send("/v1/workflows", []byte(`{"name": 1}`))
	require.Equal(t, http.StatusBadRequest, status)
	require.Empty(t, h.contract.drain())

	// Left uncollected, a mismatch fails the harness's test at cleanup.
	send("/contract-probe", nil)
	require.Len(t, h.contract.drain(), 1)
}

// GET /docs is the reference page: Redoc from this binary, the document
// from /openapi.json, nothing from elsewhere, no inline script; public.
func TestAPIReferencePage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": "s3cret"})
	page := h.do("GET", "/docs", nil)
	require.Equal(t, http.StatusOK, page.status, string(page.body))
	require.Equal(t, "text/html; charset=utf-8", page.header.Get("Content-Type"))
	csp := page.header.Get("Content-Security-Policy")
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		require.Contains(t, csp, directive)
	}
	require.NotContains(t, csp, "unsafe-eval")
	require.Contains(t, strings.Split(csp, ";"), " script-src 'self'", "scripts: this origin only")
	html := string(page.body)
	require.Contains(t, html, `<redoc spec-url="/openapi.json"></redoc>`)
	require.Contains(t, html, `<script src="/docs/redoc.standalone.js"></script>`)
	require.NotRegexp(t, `<script(\s[^>]*)?>\s*[^<\s]`, html, "no inline script")
	require.NotRegexp(t, `(https?:)?//`, html, "nothing loaded from another origin")

	js := h.do("GET", "/docs/redoc.standalone.js", nil)
	require.Equal(t, http.StatusOK, js.status)
	require.Equal(t, "text/javascript; charset=utf-8", js.header.Get("Content-Type"))
	require.Contains(t, js.header.Get("Cache-Control"), "max-age")
	require.Greater(t, len(js.body), 500_000)
	require.Contains(t, string(js.body[:4096]), "redoc", "the Redoc standalone bundle")
	require.Less(t, len(js.body), 2<<20, "keep the embedded renderer small")

	license := h.do("GET", "/docs/redoc.standalone.js.LICENSE.txt", nil)
	require.Equal(t, http.StatusOK, license.status)
	require.Contains(t, string(license.body), "ReDoc")
	for _, p := range []string{"/docs/nope.js", "/docs/..%2Fdocs.go", "/docs/a/b"} {
		h.expect(h.do("GET", p, nil), http.StatusNotFound, "FLK-0003")
	}
}
