package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"flowker/internal/secret"
	"flowker/internal/telemetry"
)

const headerRequestID = "X-Request-Id"

// requestID accepts a sane client X-Request-Id or makes one, and echoes it.
func (a *api) requestID(c *fiber.Ctx) error {
	id := c.Get(headerRequestID)
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Locals(headerRequestID, id)
	c.Set(headerRequestID, id)
	return c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e { // printable ASCII only: it is logged and echoed
			return false
		}
	}
	return true
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(headerRequestID).(string)
	return id
}

func (a *api) logPanic(c *fiber.Ctx, p any) {
	a.log.Error("panic serving request", append(telemetry.Trace(c.UserContext()),
		zap.String("operation", operation(c)), zap.String("http.path", secret.RedactText(c.Path())), // no callback token
		zap.String("request.id", requestID(c)), zap.Any("error.message", p), zap.Stack("stack"))...)
}

// operation names a request as its server span does: method and route
// template (GET /v1/workflows/:id). A request no route matched is named
// after the last middleware group it passed ("/" or "/v1").
func operation(c *fiber.Ctx) string { return c.Method() + " " + c.Route().Path }

// accessLog writes one debug entry per request, with the trace ids, so
// LOG_LEVEL=debug correlates every request with its trace. Off (no cost
// beyond one level check) at info and above.
func (a *api) accessLog(c *fiber.Ctx) error {
	if !a.log.Core().Enabled(zap.DebugLevel) {
		return c.Next()
	}
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil { // the error handler has not answered yet: predict its status
		status, _ = a.describe(c, err)
	}
	a.log.Debug("request", append(telemetry.Trace(c.UserContext()),
		zap.String("operation", operation(c)), zap.String("http.method", c.Method()),
		zap.String("http.route", c.Route().Path), zap.Int("http.status_code", status),
		zap.Duration("duration", time.Since(start)), zap.String("request.id", requestID(c)))...)
	return err
}
