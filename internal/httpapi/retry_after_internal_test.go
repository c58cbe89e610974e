package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"flowker/internal/flow"
)

// A 503 invites a retry after a second (Retry-After: 1): the queue full, the
// database unavailable. Not a start whose outcome is unknown (FLK-0014): it
// may have started, and sent again without its Idempotency-Key it would
// start twice (found by a defect hunt).
func TestRetryAfterOnlyWhereARetryIsSafe(t *testing.T) {
	t.Parallel()
	a := &api{log: zap.NewNop()}
	app := fiber.New(fiber.Config{ErrorHandler: a.handleError})
	for code, retry := range map[string]string{"FLK-0012": "1", "FLK-0511": "1", flow.CodeOutcomeUnknown: ""} {
		app.Get("/"+code, func(*fiber.Ctx) error {
			return errors.Join(&flow.Error{Kind: flow.KindUnavailable, Code: code, Message: "m"})
		})
		resp, err := app.Test(httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/"+code, nil))
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, code)
		require.Equal(t, retry, resp.Header.Get("Retry-After"), code)
	}
}
