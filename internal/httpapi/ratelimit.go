package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"flowker/internal/audit"
	"flowker/internal/flow"
)

// rateLimiter bounds each client's requests to the management API
// (RATE_LIMIT_PER_MINUTE; nil when 0). A client is its API key id or token
// subject, else its client IP (so bad credentials are limited per address).
// The window slides over one minute; counts are per process. secureRouter
// puts it in front of every /v1 route except webhooks, after authenticate
// has named the caller; it never sees health routes or unmatched paths.
func (a *api) rateLimiter() fiber.Handler {
	perMinute := a.cfg.RateLimitPerMinute
	if perMinute <= 0 {
		return nil
	}
	return limiter.New(limiter.Config{
		Max:               perMinute,
		Expiration:        time.Minute,
		LimiterMiddleware: limiter.SlidingWindow{},
		KeyGenerator:      rateKey,
		// The limiter has set Retry-After (whole seconds) before this runs.
		LimitReached: func(c *fiber.Ctx) error {
			return flow.Errorf(flow.KindRateLimited, codeRateLimited,
				"rate limit of %d requests per minute exceeded; retry after %s s",
				perMinute, c.GetRespHeader(fiber.HeaderRetryAfter))
		},
	})
}

// rateKey names the client a request counts against.
func rateKey(c *fiber.Ctx) string {
	actor := audit.FromContext(c.UserContext()).Actor
	if actor.Type == actorAPIKey || actor.Type == actorUser {
		return actor.Type + ":" + actor.ID
	}
	return "ip:" + actor.IP
}
