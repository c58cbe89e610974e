// Package httpapi is Flowker's HTTP interface on Fiber: routes, request and
// response shapes, middleware, and the one mapping from errors to HTTP
// (errors.go). It talks to the service only, never to a store.
package httpapi

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"flowker/internal/config"
	"flowker/internal/jsonenc"
	"flowker/internal/service"
	"flowker/internal/telemetry"
)

// encodeJSON writes every JSON answer (c.JSON): encoding/json's text, byte
// for byte (TestAnswersAreEncodingJSON holds the answers' shapes), at about
// a third of its time: a synchronous call's answer carries every step's
// input and output.
var encodeJSON = jsonenc.Marshal

type api struct {
	svc      *service.Service
	cfg      config.Config
	log      *zap.Logger
	started  time.Time
	draining *atomic.Bool
	auth     *authn        // credentials and client IPs (auth.go)
	limit    fiber.Handler // per-client rate limit, nil when off (ratelimit.go)
}

// New builds the HTTP application. Readiness fails while draining is set.
func New(svc *service.Service, cfg config.Config, log *zap.Logger, draining *atomic.Bool) *fiber.App {
	a := &api{svc: svc, cfg: cfg, log: log, started: time.Now(), draining: draining}
	app := fiber.New(fiber.Config{
		AppName: "flowker",
		// Request strings (params, query, headers) are copies, not views of
		// fasthttp's reused buffers: values that outlive a handler (an
		// execution's input, handed to a worker) must never change under it.
		Immutable:             true,
		DisableStartupMessage: true,
		CaseSensitive:         false, // the reference's paths are case-insensitive
		StrictRouting:         false, // and ignore a trailing slash
		BodyLimit:             cfg.HTTP.MaxBodyBytes,
		ReadTimeout:           cfg.HTTP.ReadTimeout,
		WriteTimeout:          cfg.HTTP.WriteTimeout,
		IdleTimeout:           cfg.HTTP.IdleTimeout,
		ErrorHandler:          a.handleError,
		JSONEncoder:           encodeJSON,
	})
	panics := recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: a.logPanic})
	app.Use(panics) // outermost: a panic in the telemetry middleware or the error handler
	// Server span and http.server.* metrics for everything below. The inner
	// recover turns a handler panic into a 500 inside the span, so the span,
	// the metrics and the in-flight counter see it.
	app.Use(telemetry.HTTPMiddleware(telemetry.ProbePaths...))
	app.Use(panics)
	app.Use(a.requestID)
	app.Use(a.accessLog)
	if len(cfg.CORSAllowedOrigins) > 0 { // none configured: no cross-origin access at all
		app.Use(cors.New(cors.Config{
			AllowOrigins: strings.Join(cfg.CORSAllowedOrigins, ","),
			AllowMethods: "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS",
			// Every request header the API reads and every response header it
			// sets for clients (the OpenAPI document's): a browser withholds
			// the others, and without If-Match and ETag no write could be
			// conditional (TestCORSCoversTheContractHeaders).
			AllowHeaders: "Origin,Content-Type,Accept,Authorization,X-Request-Id,X-API-Key,Idempotency-Key," +
				"X-Webhook-Token,Prefer,If-Match,Content-Encoding",
			ExposeHeaders: "X-Request-Id,Idempotent-Replayed,Retry-After,ETag,Location,Preference-Applied," +
				"X-Webhook-Workflow-ID,X-Webhook-Execution-ID,WWW-Authenticate",
			MaxAge: 3600,
		}))
	}

	a.healthRoutes(app)
	// The browser console (console.go), outside /v1: its files need no credentials.
	a.consoleRoutes(app)
	a.docRoutes(app) // /openapi.json and /docs, public like the health routes (docs.go)
	// Authentication and rate limiting (auth.go): every /v1 route must be
	// registered on v1, which gives it its one permission; a route family
	// missing from routePermissions panics here.
	v1 := a.secureV1(app)
	// After authentication, before every /v1 handler: no NUL or invalid
	// UTF-8 in the path, query or Idempotency-Key (request.go).
	app.Use(a.strictInput)
	a.workflowRoutes(v1)
	a.providerConfigRoutes(v1)
	a.executorRoutes(v1)
	a.catalogRoutes(v1)
	a.executionRoutes(v1)
	a.waitRoutes(v1) // reviews, callbacks, signals (reviews.go)
	a.auditRoutes(v1)
	a.dashboardRoutes(v1)
	a.meRoutes(v1)
	a.answerUnknownMethods(app)
	hideReadErrors(app) // framing.go
	return app
}

// answerUnknownMethods is the outermost handler, before Fiber's routing
// and middleware. It refuses a request whose body has no single framing
// (framing.go: two Content-Length values, Content-Length with
// Transfer-Encoding, a Transfer-Encoding other than chunked), and gives a method Fiber does not know (PROPFIND, …)
// the standard error shape: Fiber answers it with a plain-text 400 before
// any middleware runs. It is a 405 FLK-0004, as a known method on a route
// that does not take it.
func (a *api) answerUnknownMethods(app *fiber.App) {
	srv := app.Server()
	next := srv.Handler
	srv.Handler = func(fctx *fasthttp.RequestCtx) {
		if problem := framingProblem(fctx.Request.Header.RawHeaders()); problem != "" {
			a.refuseFraming(app, fctx, problem)
			return
		}
		if slices.Contains(fiber.DefaultMethods, string(fctx.Method())) {
			next(fctx)
			return
		}
		c := app.AcquireCtx(fctx)
		defer app.ReleaseCtx(c)
		id := c.Get(headerRequestID)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		c.Set(headerRequestID, id)
		_ = a.handleError(c, fiber.ErrMethodNotAllowed) // it writes the response itself
	}
}
