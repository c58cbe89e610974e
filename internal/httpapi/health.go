package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
)

// pingTimeout bounds a dependency check, so a probe never hangs.
const pingTimeout = 2 * time.Second

func (a *api) healthRoutes(app *fiber.App) {
	app.Get("/health", a.health)
	app.Get("/health/live", a.live)
	app.Get("/health/ready", a.ready)
	app.Get("/readyz", a.ready)
	app.Get("/version", a.version)
}

type dependency struct {
	Status    string `json:"status"`
	Driver    string `json:"driver,omitempty"`
	Message   string `json:"message,omitempty"`
	LatencyMS *int64 `json:"latency_ms,omitempty"`
	Error     string `json:"error,omitempty"`
}

// checkDatabase pings the store; up is reported with its latency.
func (a *api) checkDatabase(ctx context.Context) (dependency, bool) {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	start := time.Now()
	err := a.svc.Ping(ctx)
	ms := time.Since(start).Milliseconds()
	if err == nil {
		return dependency{Status: "up", Driver: a.svc.Driver(), LatencyMS: &ms}, true
	}
	a.log.Warn("database check failed", zap.String("operation", "health"), zap.String("error.message", err.Error()))
	msg := "database unreachable"
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "timeout exceeded"
	}
	return dependency{Status: "down", Driver: a.svc.Driver(), Error: msg}, false
}

// health is the combined check: status, version, uptime, dependencies.
func (a *api) health(c *fiber.Ctx) error {
	db, ok := a.checkDatabase(c.UserContext())
	status, code := "healthy", http.StatusOK
	if !ok {
		status, code = "unhealthy", http.StatusServiceUnavailable
	}
	return c.Status(code).JSON(fiber.Map{
		"status":    status,
		"version":   a.cfg.Version,
		"uptime":    time.Since(a.started).Round(time.Millisecond).String(),
		"timestamp": time.Now().UTC(),
		"checks":    fiber.Map{"database": db},
	})
}

// live answers while the process can serve HTTP; it touches nothing, so a
// database outage never makes Kubernetes restart healthy pods.
func (a *api) live(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "alive", "version": a.cfg.Version})
}

// ready is 200 only when the database answers and we are not draining.
func (a *api) ready(c *fiber.Ctx) error {
	body := fiber.Map{"status": "healthy", "version": a.cfg.Version, "deployment_mode": a.cfg.DeploymentMode}
	if a.draining.Load() {
		body["status"], body["draining"], body["checks"] = "unhealthy", true, fiber.Map{}
		return c.Status(http.StatusServiceUnavailable).JSON(body)
	}
	db, ok := a.checkDatabase(c.UserContext())
	body["checks"] = fiber.Map{"database": db}
	if !ok {
		body["status"] = "unhealthy"
		return c.Status(http.StatusServiceUnavailable).JSON(body)
	}
	return c.JSON(body)
}

func (a *api) version(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"version": a.cfg.Version, "requestDate": time.Now().UTC()})
}
