package httpapi

import (
	"net/http"
	"net/http/httptest"
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
	for path, want := range map[string]string{
		"/v1/workflows":                         permWorkflows,
		"/v1/workflows/:id":                     permWorkflows,
		"/v1/workflows/from-template":           permWorkflows,
		"/v1/workflows/:id/activate":            permWorkflows,
		"/v1/workflows/:id/executions":          permExecutions,
		"/v1/workflows/:workflowId/executions/": permExecutions,
		"/V1/Workflows/:id/Executions":          permExecutions,
		"/v1/executions":                        permExecutions,
		"/v1/executions/:id/results":            permExecutions,
		"/v1/catalog/executors/:id":             permCatalog,
		"/v1/executors":                         permExecutorConfigs,
		"/v1/executors/:id/test":                permExecutorConfigs,
		"/v1/provider-configurations/:id":       permProviderConfigs,
		"/v1/dashboards/workflows/summary":      permDashboards,
		"/v1/dashboards/executions":             permDashboards,
		"/v1/audit-events":                      permAuditEvents,
		"/v1/audit-events/:id/verify":           permAuditEvents,
		"/v1/webhooks/*":                        permWebhooks,
		"//v1//webhooks//x":                     permWebhooks,
	} {
		got, ok := permissionFor(path)
		require.True(t, ok, path)
		require.Equal(t, want, got, path)
	}
	for _, path := range []string{"/v1", "/v1/", "/v1/workflowsx", "/v1/executor", "/v2/workflows", "/workflows",
		"/v1/dashboard", "/v1/audit"} {
		_, ok := permissionFor(path)
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
