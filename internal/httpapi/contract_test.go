package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"flowker/internal/httpapi"
)

// Every response the harness's server sends is checked against the OpenAPI
// document (internal/httpapi/openapi/openapi.yaml): its status must be one
// the matched operation declares, the headers that response declares must
// be there and well-formed, and its JSON body must match the schema. So
// every HTTP test is also a contract test; a mismatch fails the test that
// made the request, naming the route, the status and what differs.

// contract is the loaded document and a matcher from requests to its
// operations, routing as Fiber does here: paths case-insensitive, a
// trailing slash ignored, literal segments before parameters.
type contract struct {
	doc       *openapi3.T
	routes    []docRoute
	unrouted  *openapi3.Operation // what a request no operation matches may get
	preflight *openapi3.Operation // a CORS preflight, answered before routing
	testRoute *openapi3.Operation // a route a test added (harness extras): errors only
}

// testRoute is a route a test registered on top of the API's.
type testRoute struct {
	method, path string
	re           *regexp.Regexp
}

// testRoutes compiles the routes a test added to app, as Fiber matches them.
func testRoutes(added []fiber.Route) []testRoute {
	var out []testRoute
	for _, r := range added {
		var expr strings.Builder
		expr.WriteString("^")
		for _, seg := range strings.Split(strings.Trim(r.Path, "/"), "/") {
			switch {
			case seg == "*":
				expr.WriteString("(?:/.*)?")
			case strings.HasPrefix(seg, ":"):
				expr.WriteString("/[^/]+")
			default:
				expr.WriteString("/(?i:" + regexp.QuoteMeta(seg) + ")")
			}
		}
		expr.WriteString("/?$")
		out = append(out, testRoute{method: r.Method, path: r.Path, re: regexp.MustCompile(expr.String())})
	}
	return out
}

type docRoute struct {
	template string
	item     *openapi3.PathItem
	re       *regexp.Regexp
	params   int
}

// wildcardExt marks a path parameter that matches the rest of the path
// (Fiber's "*"), such as the webhook path.
const wildcardExt = "x-wildcard"

var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	c := &contract{doc: doc}
	for template, item := range doc.Paths.Map() {
		c.routes = append(c.routes, compileRoute(template, item))
	}
	// Literal segments win over parameters, as in Fiber's registration order.
	sort.SliceStable(c.routes, func(i, j int) bool {
		if c.routes[i].params != c.routes[j].params {
			return c.routes[i].params < c.routes[j].params
		}
		return c.routes[i].template < c.routes[j].template
	})
	resp := func(name string) *openapi3.ResponseRef {
		r := doc.Components.Responses[name]
		if r == nil || r.Value == nil {
			err = errors.Join(err, fmt.Errorf("components.responses.%s is missing", name))
		}
		return r
	}
	c.unrouted = &openapi3.Operation{OperationID: "no operation", Responses: openapi3.NewResponses(
		openapi3.WithStatus(http.StatusBadRequest, resp("MalformedRequest")),
		openapi3.WithStatus(http.StatusNotFound, resp("RouteNotFound")),
		openapi3.WithStatus(http.StatusMethodNotAllowed, resp("MethodNotAllowed")),
		openapi3.WithStatus(http.StatusRequestEntityTooLarge, resp("BodyTooLarge")),
		openapi3.WithStatus(http.StatusRequestTimeout, resp("RequestTimeout")),
		openapi3.WithStatus(http.StatusRequestHeaderFieldsTooLarge, resp("HeadersTooLarge")),
		openapi3.WithStatus(http.StatusInternalServerError, resp("InternalError")))}
	c.preflight = &openapi3.Operation{OperationID: "CORS preflight", Responses: openapi3.NewResponses(
		openapi3.WithStatus(http.StatusNoContent, resp("Preflight")))}
	errorShape := openapi3.NewResponse().WithDescription("any error").
		WithJSONSchemaRef(doc.Components.Schemas["Error"])
	c.testRoute = &openapi3.Operation{OperationID: "test-only route", Responses: openapi3.NewResponses(
		openapi3.WithName("default", errorShape))}
	return c, err
})

func compileRoute(template string, item *openapi3.PathItem) docRoute {
	r := docRoute{template: template, item: item}
	wildcards := map[string]bool{}
	for _, op := range item.Operations() {
		for _, p := range append(item.Parameters, op.Parameters...) {
			if p.Value != nil && p.Value.In == openapi3.ParameterInPath && p.Value.Extensions[wildcardExt] == true {
				wildcards[p.Value.Name] = true
			}
		}
	}
	var expr strings.Builder
	expr.WriteString("^")
	for _, seg := range strings.Split(strings.Trim(template, "/"), "/") {
		name, isParam := strings.CutPrefix(seg, "{")
		name = strings.TrimSuffix(name, "}")
		switch {
		case !isParam:
			expr.WriteString("/(?i:" + regexp.QuoteMeta(seg) + ")")
		case wildcards[name]:
			expr.WriteString("(?:/.*)?")
		default:
			expr.WriteString("/[^/]+")
		}
		if isParam {
			r.params++
		}
	}
	expr.WriteString("/?$")
	r.re = regexp.MustCompile(expr.String())
	return r
}

// route finds the operation serving method and path (escaped, as Fiber
// matches it); without one, the responses every unrouted request may get.
func (c *contract) route(req *http.Request, path string, status int, testOnly []testRoute) *routers.Route {
	method := req.Method
	if method == http.MethodOptions && status == http.StatusNoContent && req.Header.Get("Origin") != "" &&
		req.Header.Get("Access-Control-Request-Method") != "" { // answered by the CORS layer
		return &routers.Route{Spec: c.doc, Path: "(any)", Method: method, Operation: c.preflight}
	}
	for _, r := range testOnly {
		if r.re.MatchString(path) && (r.method == method || r.method == http.MethodGet && method == http.MethodHead) {
			return &routers.Route{Spec: c.doc, Path: r.path, Method: method, Operation: c.testRoute}
		}
	}
	for _, r := range c.routes {
		if !r.re.MatchString(path) {
			continue
		}
		op := r.item.GetOperation(method)
		if op == nil && method == http.MethodHead { // Fiber answers HEAD with the GET route
			op = r.item.Get
		}
		if op == nil {
			continue
		}
		return &routers.Route{Spec: c.doc, Path: r.template, PathItem: r.item, Method: method, Operation: op}
	}
	return &routers.Route{Spec: c.doc, Path: path, Method: method, Operation: c.unrouted}
}

// check validates one response against the operation serving req; path is
// the request path as sent (escaped).
func (c *contract) check(req *http.Request, path string, status int, header http.Header, body []byte,
	testOnly []testRoute) error {
	route := c.route(req, path, status, testOnly)
	name := route.Operation.OperationID
	if route.Operation == c.testRoute && status < http.StatusBadRequest {
		return nil // a test's own route: only its errors must have the standard shape
	}
	fail := func(err error) error {
		return fmt.Errorf("contract: %s %s (%s) answered %d: %s", req.Method, route.Path, name, status, brief(err))
	}
	ref := route.Operation.Responses.Status(status)
	if ref == nil {
		ref = route.Operation.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		return fail(fmt.Errorf("status %d is not documented (documented: %s)", status,
			strings.Join(documentedStatuses(route.Operation), ", ")))
	}
	head := req.Method == http.MethodHead
	if len(ref.Value.Content) == 0 && len(body) > 0 && !head {
		return fail(fmt.Errorf("a body was sent but the response documents none: %.200s", body))
	}
	vreq := req
	if head { // kin-openapi skips HEAD entirely: check status and headers as a GET
		vreq = req.Clone(req.Context())
		vreq.Method = http.MethodGet
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: head},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		if len(body) > 0 {
			return fmt.Errorf("%w\n\tbody: %.600s", fail(err), body)
		}
		return fail(err)
	}
	return nil
}

func documentedStatuses(op *openapi3.Operation) []string {
	var out []string
	for s := range op.Responses.Map() {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// brief keeps a schema error readable: what failed, without the schema
// and value dumps kin-openapi appends, and bounded.
func brief(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	s = strings.ReplaceAll(s, "validation failed due to: ", "")
	if len(s) > 600 {
		s = s[:600] + " …"
	}
	return s
}

// contractWatch checks every response a Fiber app serves, on the server
// side (so requests made without harness.do are checked too), and keeps
// the mismatches by the response's X-Request-Id until the test that made
// the request collects them.
type contractWatch struct {
	c        *contract
	testOnly []testRoute
	seen     atomic.Int64 // responses checked
	mu       sync.Mutex
	failures map[string][]string
}

// watchContract wraps the app's fasthttp handlers, so it sees each final
// response (after the error handler) and the framework's own refusals (a
// body over the limit). Mismatches nobody collected fail t at cleanup.
// Call it before the app serves and before the cleanup that shuts it down
// is registered, so that cleanup has run when this one reports.
func watchContract(t *testing.T, app *fiber.App, added []fiber.Route) *contractWatch {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatalf("contract: the OpenAPI document does not load: %v", err)
	}
	w := &contractWatch{c: c, testOnly: testRoutes(added), failures: map[string][]string{}}
	srv := app.Server()
	next, nextErr := srv.Handler, srv.ErrorHandler
	srv.Handler = func(ctx *fasthttp.RequestCtx) {
		next(ctx)
		w.observe(ctx)
	}
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		nextErr(ctx, err)
		w.observe(ctx)
	}
	t.Cleanup(func() {
		for _, f := range w.drain() {
			t.Errorf("%s", f)
		}
	})
	return w
}

func (w *contractWatch) observe(ctx *fasthttp.RequestCtx) {
	w.seen.Add(1)
	method, path := string(ctx.Method()), string(ctx.URI().PathOriginal())
	req, err := http.NewRequestWithContext(context.Background(), method, "http://flowker"+path, nil)
	if err != nil {
		w.add("", fmt.Sprintf("contract: %s %s: unusable request: %v", method, path, err))
		return
	}
	ctx.Request.Header.VisitAll(func(k, v []byte) { req.Header.Add(string(k), string(v)) })
	header := http.Header{}
	ctx.Response.Header.VisitAll(func(k, v []byte) { header.Add(string(k), string(v)) })
	status := ctx.Response.StatusCode()
	var body []byte // what goes on the wire: nothing for HEAD, 1xx, 204 and 304
	if !ctx.IsHead() && status >= http.StatusOK && status != http.StatusNoContent && status != http.StatusNotModified {
		body = append(body, ctx.Response.Body()...)
	}
	if err := w.c.check(req, path, status, header, body, w.testOnly); err != nil {
		w.add(header.Get("X-Request-Id"), err.Error())
	}
}

func (w *contractWatch) add(requestID, failure string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures[requestID] = append(w.failures[requestID], failure)
}

// take returns and forgets the mismatches of the response with this id.
func (w *contractWatch) take(requestID string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.failures[requestID]
	delete(w.failures, requestID)
	return f
}

// drain returns and forgets every mismatch not collected yet.
func (w *contractWatch) drain() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, f := range w.failures {
		out = append(out, f...)
	}
	w.failures = map[string][]string{}
	sort.Strings(out)
	return out
}
