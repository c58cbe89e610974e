package httpapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
)

func TestListPagingAndGetByName(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for i := range 5 {
		h.expect(h.do("POST", "/v1/workflows", linear(fmt.Sprintf("wf-%d", i))), http.StatusCreated, "")
	}
	var names []string
	q := "/v1/workflows?limit=2&sortBy=name&sortOrder=asc"
	for pages := 1; ; pages++ {
		require.LessOrEqual(t, pages, 3)
		page := h.expect(h.do("GET", q, nil), http.StatusOK, "")
		for _, it := range page["items"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		if !page["hasMore"].(bool) {
			require.Empty(t, page["nextCursor"])
			break
		}
		// Reference clients resend sortBy/sortOrder with the cursor: allowed when they agree.
		q = "/v1/workflows?limit=2&sortBy=name&sortOrder=ASC&cursor=" + url.QueryEscape(page["nextCursor"].(string))
	}
	require.Equal(t, []string{"wf-0", "wf-1", "wf-2", "wf-3", "wf-4"}, names)

	// Default order: newest first.
	first := h.expect(h.do("GET", "/v1/workflows?limit=1", nil), http.StatusOK, "")["items"].([]any)[0]
	require.Equal(t, "wf-4", first.(map[string]any)["name"])

	byName := h.expect(h.do("GET", "/v1/workflows?name=wf-3", nil), http.StatusOK, "")
	require.Len(t, byName["items"], 1)
	require.Equal(t, "wf-3", byName["items"].([]any)[0].(map[string]any)["name"])
	require.Empty(t, h.expect(h.do("GET", "/v1/workflows?name=WF-3", nil), http.StatusOK, "")["items"])
	require.Empty(t, h.expect(h.do("GET", "/v1/workflows?status=active", nil), http.StatusOK, "")["items"])
}

func TestRenameOntoTakenNameConflicts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.expect(h.do("POST", "/v1/workflows", linear("taken")), http.StatusCreated, "")
	id := h.expect(h.do("POST", "/v1/workflows", linear("mine")), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("PUT", "/v1/workflows/"+id, linear("taken")), http.StatusConflict, "FLK-0101")
	require.Equal(t, "mine", h.expect(h.do("GET", "/v1/workflows/"+id, nil), http.StatusOK, "")["name"])
}

func TestHealth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"VERSION": "1.2.3", "DEPLOYMENT_MODE": "byoc"})

	health := h.expect(h.do("GET", "/health", nil), http.StatusOK, "")
	require.Equal(t, "healthy", health["status"])
	require.Equal(t, "1.2.3", health["version"])
	require.NotEmpty(t, health["uptime"])
	db := health["checks"].(map[string]any)["database"].(map[string]any)
	require.Equal(t, "up", db["status"])
	require.Equal(t, "sqlite", db["driver"])

	for _, p := range []string{"/health/ready", "/readyz"} {
		r := h.expect(h.do("GET", p, nil), http.StatusOK, "")
		require.Equal(t, "healthy", r["status"])
		require.Equal(t, "byoc", r["deployment_mode"])
		require.Equal(t, "1.2.3", r["version"])
	}
	require.Equal(t, "1.2.3", h.expect(h.do("GET", "/version", nil), http.StatusOK, "")["version"])

	// Draining: readiness fails at once, liveness does not.
	h.draining.Store(true)
	for _, p := range []string{"/health/ready", "/readyz"} {
		r := h.expect(h.do("GET", p, nil), http.StatusServiceUnavailable, "")
		require.Equal(t, true, r["draining"])
	}
	h.expect(h.do("GET", "/health/live", nil), http.StatusOK, "")
	h.draining.Store(false)

	// Database gone: readiness and health fail; liveness stays up.
	require.NoError(t, h.store.Close())
	r := h.expect(h.do("GET", "/health/ready", nil), http.StatusServiceUnavailable, "")
	require.Equal(t, "down", r["checks"].(map[string]any)["database"].(map[string]any)["status"])
	require.Equal(t, "unhealthy", h.expect(h.do("GET", "/health", nil), http.StatusServiceUnavailable, "")["status"])
	require.Equal(t, "alive", h.expect(h.do("GET", "/health/live", nil), http.StatusOK, "")["status"])
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEY": "s3cret"})
	for _, key := range []string{"", "wrong", "s3cre", "s3cret2"} {
		r := h.do("GET", "/v1/workflows", nil, "X-API-Key", key)
		require.Equal(t, http.StatusUnauthorized, r.status, key)
		require.Equal(t, "UNAUTHORIZED", r.json(t)["code"])
	}
	h.expect(h.do("GET", "/v1/workflows", nil, "X-API-Key", "s3cret"), http.StatusOK, "")
	// Operational routes stay open.
	for _, p := range []string{"/health", "/health/live", "/health/ready", "/readyz", "/version"} {
		h.expect(h.do("GET", p, nil), http.StatusOK, "")
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := []string{"Origin", "https://app.example", "Access-Control-Request-Method", "POST"}

	closed := newHarness(t, nil) // no origins configured: no cross-origin access
	r := closed.do("OPTIONS", "/v1/workflows", nil, preflight...)
	require.Empty(t, r.header.Get("Access-Control-Allow-Origin"))

	open := newHarness(t, map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example"})
	r = open.do("OPTIONS", "/v1/workflows", nil, preflight...)
	require.Equal(t, http.StatusNoContent, r.status)
	require.Equal(t, "https://app.example", r.header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, r.header.Get("Access-Control-Allow-Headers"), "Idempotency-Key")
	r = open.do("OPTIONS", "/v1/workflows", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	require.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
}

func TestRequestIDAndPaths(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	r := h.do("GET", "/v1/workflows", nil, "X-Request-Id", "abc-123")
	require.Equal(t, "abc-123", r.header.Get("X-Request-Id"))
	r = h.do("GET", "/v1/workflows", nil, "X-Request-Id", strings.Repeat("x", 200))
	require.Len(t, r.header.Get("X-Request-Id"), 36, "an unusable id is replaced by a generated one")
	require.Len(t, h.do("GET", "/v1/workflows", nil).header.Get("X-Request-Id"), 36)

	// Paths are case-insensitive and ignore a trailing slash, as the reference's.
	h.expect(h.do("GET", "/V1/Workflows/", nil), http.StatusOK, "")
}

func TestPanicIsA500WithoutDetails(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, func(app *fiber.App) {
		app.Get("/boom", func(*fiber.Ctx) error { panic("secret internal detail") })
		app.Get("/fail", func(*fiber.Ctx) error { return errors.New("db password=hunter2") })
	})
	for _, p := range []string{"/boom", "/fail"} {
		r := h.do("GET", p, nil)
		h.expect(r, http.StatusInternalServerError, "FLK-9999")
		require.NotContains(t, string(r.body), "secret")
		require.NotContains(t, string(r.body), "hunter2")
	}
}
