package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"flowker/internal/flow"
	"flowker/internal/secret"
	"flowker/internal/telemetry"
)

// errorBody is the one error shape every response uses.
type errorBody struct {
	Code    string `json:"code"`
	Title   string `json:"title"`
	Message string `json:"message"`
}

// statusOf is the only place a domain error kind becomes an HTTP status.
var statusOf = map[flow.Kind]int{
	flow.KindInternal:      http.StatusInternalServerError,
	flow.KindInvalid:       http.StatusBadRequest,
	flow.KindUnauthorized:  http.StatusUnauthorized,
	flow.KindForbidden:     http.StatusForbidden,
	flow.KindNotFound:      http.StatusNotFound,
	flow.KindConflict:      http.StatusConflict,
	flow.KindTooLarge:      http.StatusRequestEntityTooLarge,
	flow.KindUnprocessable: http.StatusUnprocessableEntity,
	flow.KindRateLimited:   http.StatusTooManyRequests,
	flow.KindUnavailable:   http.StatusServiceUnavailable,
	flow.KindPrecondition:  http.StatusPreconditionFailed,
}

// frameworkErrors gives Fiber's own refusals (routing, body limit) our
// codes, so a client never sees a second error format.
var frameworkErrors = map[int]*flow.Error{
	http.StatusNotFound:              {Kind: flow.KindNotFound, Code: flow.CodeRouteNotFound},
	http.StatusMethodNotAllowed:      {Kind: flow.KindInvalid, Code: flow.CodeMethodNotAllowed},
	http.StatusRequestEntityTooLarge: {Kind: flow.KindTooLarge, Code: flow.CodeBodyTooLarge},
	http.StatusBadRequest:            {Kind: flow.KindInvalid, Code: flow.CodeInvalidBody},
	// Refused while reading the request, before any route: not a body problem.
	http.StatusRequestHeaderFieldsTooLarge: {Kind: flow.KindInvalid, Code: flow.CodeHeadersTooLarge},
	http.StatusRequestTimeout:              {Kind: flow.KindInvalid, Code: flow.CodeRequestTimeout},
}

// handleError is Fiber's ErrorHandler: every error a handler returns, and
// every framework refusal, is answered here.
func (a *api) handleError(c *fiber.Ctx, err error) error {
	status, body := a.describe(c, err)
	if status == http.StatusServiceUnavailable && body.Code != flow.CodeOutcomeUnknown {
		// Capacity frees as executions finish (FLK-0511); a database that is
		// unreachable or shutting down (the store's FLK-0012) is worth a retry
		// too. A start whose outcome is unknown (FLK-0014) may have started:
		// sent again without its Idempotency-Key, it would start twice.
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if status >= http.StatusInternalServerError {
		a.log.Error("request failed", append(telemetry.Trace(c.UserContext()),
			zap.String("operation", operation(c)), zap.String("http.path", secret.RedactText(c.Path())), // no callback token
			zap.String("request.id", requestID(c)), telemetry.ErrorMessage(err))...)
	}
	return c.Status(status).JSON(body)
}

func (a *api) describe(c *fiber.Ctx, err error) (int, errorBody) {
	var de *flow.Error
	if errors.As(err, &de) {
		status := statusOf[de.Kind]
		title := de.Title
		if title == "" {
			title = http.StatusText(status)
		}
		return status, errorBody{Code: de.Code, Title: title, Message: de.Message}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		if known, ok := frameworkErrors[fe.Code]; ok {
			msg := fe.Message
			switch fe.Code {
			case http.StatusNotFound:
				msg = "no route for " + c.Method() + " " + c.Path()
			case http.StatusMethodNotAllowed:
				msg = "method " + c.Method() + " is not allowed on " + c.Path()
			case http.StatusRequestHeaderFieldsTooLarge:
				msg = "request header fields are too large"
			case http.StatusRequestTimeout:
				msg = "the request was not received in time"
			case http.StatusRequestEntityTooLarge:
				msg = "request body exceeds the limit of " + humanBytes(a.cfg.HTTP.MaxBodyBytes)
				if code := bodyLimitCode(c.Path()); code != "" {
					// The server-wide limit fired before the route's own one:
					// answer with the route's code, as the reference does.
					return fe.Code, errorBody{Code: code, Title: http.StatusText(fe.Code), Message: msg}
				}
			}
			// 405 keeps its own status though the kind is "invalid input".
			return fe.Code, errorBody{Code: known.Code, Title: http.StatusText(fe.Code), Message: msg}
		}
		if fe.Code < http.StatusInternalServerError {
			return fe.Code, errorBody{Code: flow.CodeInvalidBody, Title: http.StatusText(fe.Code), Message: fe.Message}
		}
	}
	return http.StatusInternalServerError, errorBody{Code: flow.CodeInternal,
		Title: http.StatusText(http.StatusInternalServerError), Message: "internal server error"}
}

// bodyLimitCode is the code of the routes that have a body limit of their
// own in the reference: executions (FLK-0506) and webhooks (FLK-0363).
func bodyLimitCode(path string) string {
	p := strings.ToLower(strings.TrimSuffix(path, "/"))
	switch {
	case strings.HasPrefix(p, "/v1/webhooks/"):
		return "FLK-0363"
	case strings.HasPrefix(p, "/v1/workflows/") && strings.HasSuffix(p, "/executions") && strings.Count(p, "/") == 4:
		return "FLK-0506"
	}
	return ""
}
