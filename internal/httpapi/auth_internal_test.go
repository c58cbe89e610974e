package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"flowker/internal/config"
)

func TestPermissionFor(t *testing.T) {
	t.Parallel()
	for route, want := range map[string]string{
		"POST /v1/workflows":                        config.PermWorkflowsManage,
		"GET /v1/workflows":                         config.PermWorkflowsRead,
		"HEAD /v1/workflows/:id":                    config.PermWorkflowsRead,
		"PUT /v1/workflows/:id":                     config.PermWorkflowsManage,
		"DELETE /v1/workflows/:id":                  config.PermWorkflowsManage,
		"POST /v1/workflows/from-template":          config.PermWorkflowsManage,
		"POST /v1/workflows/:id/activate":           config.PermWorkflowsManage,
		"POST /v1/workflows/:id/executions":         config.PermExecutionsManage,
		"GET /v1/workflows/:workflowId/executions/": config.PermExecutionsRead,
		"POST /V1/Workflows/:id/Executions":         config.PermExecutionsManage,
		"GET /v1/executions":                        config.PermExecutionsRead,
		"GET /v1/executions/:id/results":            config.PermExecutionsRead,
		"POST /v1/executions/:id/cancel":            config.PermExecutionsManage,
		"GET /v1/catalog/executors/:id":             config.PermCatalogRead,
		"POST /v1/catalog/templates/:id/validate":   config.PermCatalogRead,
		"GET /v1/executors":                         config.PermExecutorConfigsRead,
		"PATCH /v1/executors/:id":                   config.PermExecutorConfigsManage,
		"POST /v1/executors/:id/test":               config.PermExecutorConfigsManage,
		"GET /v1/provider-configurations/:id":       config.PermProviderConfigsRead,
		"DELETE /v1/provider-configurations/:id":    config.PermProviderConfigsManage,
		"GET /v1/dashboards/workflows/summary":      config.PermDashboardsRead,
		"GET /v1/dashboards/executions/series":      config.PermDashboardsRead,
		"GET /v1/audit-events":                      config.PermAuditEventsRead,
		"GET /v1/audit-events/:id/verify":           config.PermAuditEventsRead,
		"POST /v1/webhooks/*":                       config.PermWebhooksExecute,
		"GET //v1//webhooks//x":                     config.PermWebhooksExecute,
		"GET /v1/me":                                authenticatedOnly,
		"POST /v1/me":                               authenticatedOnly,
		"GET /v1/reviews":                           config.PermReviewsRead,
		"GET /v1/reviews/:id":                       config.PermReviewsRead,
		"POST /v1/reviews/:id/decisions":            config.PermReviewsDecide,
		"POST /v1/executions/:id/signals/:name":     config.PermExecutionsManage,
		"POST /v1/callbacks/:token":                 pathAuthenticated,
	} {
		method, path, _ := strings.Cut(route, " ")
		got, ok := permissionFor(method, path)
		require.True(t, ok, route)
		require.Equal(t, want, got, route)
	}
	for _, path := range []string{"/v1", "/v1/", "/v1/workflowsx", "/v1/executor", "/v2/workflows", "/workflows",
		"/v1/dashboard", "/v1/audit", "/v1/meow"} {
		_, ok := permissionFor(fiber.MethodGet, path)
		require.False(t, ok, path)
	}
}

// A route outside the table cannot be registered, and nothing can be
// registered around the guard.
func TestSecureRouterFailsClosed(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]config.Config{
		"auth on":  {APIKeyEnabled: true, APIKeys: []config.APIKey{{ID: "default", Key: "k"}}},
		"auth off": {},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := &api{cfg: cfg, log: zap.NewNop()}
			app := fiber.New(fiber.Config{ErrorHandler: a.handleError})
			v1 := a.secureV1(app)
			ok := func(c *fiber.Ctx) error { return c.SendString("ok") }
			require.PanicsWithValue(t,
				"httpapi: no permission for route /v1/reports: add its family to routePermissions (auth.go)",
				func() { v1.Get("/reports", ok) })
			require.Panics(t, func() { v1.Group("/reports").Post("/", ok) })
			require.Panics(t, func() { v1.Static("/files", ".") })
			require.Panics(t, func() { v1.Mount("/sub", fiber.New()) })

			// Groups, Route and Name keep the guard: the full path decides.
			v1.Group("/audit-events").Get("/:id", ok)
			v1.Route("/dashboards", func(r fiber.Router) { r.Get("/executions", ok) }, "dash.")
			v1.Name("wf").Get("/workflows", ok)
			for _, path := range []string{"/v1/audit-events/x", "/v1/dashboards/executions", "/v1/workflows"} {
				resp, err := app.Test(httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil))
				require.NoError(t, err)
				_ = resp.Body.Close()
				want := http.StatusOK
				if cfg.APIKeyEnabled {
					want = http.StatusUnauthorized
				}
				require.Equal(t, want, resp.StatusCode, path)
			}
		})
	}
}

func TestOpenAPIIsAnnounced(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]zapcore.Level{
		":4021": zapcore.WarnLevel, "0.0.0.0:4021": zapcore.WarnLevel, "[::]:4021": zapcore.WarnLevel,
		"10.1.2.3:4021": zapcore.WarnLevel, "garbage": zapcore.WarnLevel,
		"127.0.0.1:4021": zapcore.InfoLevel, "[::1]:4021": zapcore.InfoLevel, "localhost:4021": zapcore.InfoLevel,
	} {
		core, logs := observer.New(zapcore.DebugLevel)
		a := &api{cfg: config.Config{ServerAddress: addr}, log: zap.New(core)}
		a.secureV1(fiber.New())
		entries := logs.FilterMessageSnippet("authentication is disabled").All()
		require.Len(t, entries, 1, addr)
		require.Equal(t, want, entries[0].Level, addr)
	}
	// With a credential configured nothing is said.
	core, logs := observer.New(zapcore.DebugLevel)
	a := &api{cfg: config.Config{ServerAddress: ":4021", APIKeyEnabled: true,
		APIKeys: []config.APIKey{{ID: "default", Key: "k"}}}, log: zap.New(core)}
	a.secureV1(fiber.New())
	require.Zero(t, logs.Len())
}
