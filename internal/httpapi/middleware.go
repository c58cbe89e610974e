package httpapi

import (
	"crypto/subtle"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"go.uber.org/zap"
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

// requireAPIKey checks X-API-Key in constant time.
func (a *api) requireAPIKey(c *fiber.Ctx) error {
	if subtle.ConstantTimeCompare([]byte(c.Get("X-API-Key")), []byte(a.cfg.APIKey)) != 1 {
		return c.Status(http.StatusUnauthorized).JSON(errorBody{
			Code: "UNAUTHORIZED", Title: "Unauthorized", Message: "API Key missing or invalid"})
	}
	return c.Next()
}

func (a *api) logPanic(c *fiber.Ctx, p any) {
	a.log.Error("panic serving request", zap.String("operation", c.Method()+" "+c.Path()),
		zap.String("request.id", requestID(c)), zap.Any("error.message", p), zap.Stack("stack"))
}
