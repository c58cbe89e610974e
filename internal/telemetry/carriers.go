package telemetry

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/propagation"
)

// requestCarrier reads a Fiber request's headers for a propagator, copying
// the values (Fiber's are only valid during the handler). Values lets the
// baggage propagator merge several baggage headers, as it does with an
// http.Header.
type requestCarrier struct{ c *fiber.Ctx }

func (r requestCarrier) Get(key string) string { return string(r.c.Request().Header.Peek(key)) }
func (requestCarrier) Set(string, string)      {}
func (requestCarrier) Keys() []string          { return nil }

func (r requestCarrier) Values(key string) []string {
	all := r.c.Request().Header.PeekAll(key)
	if len(all) == 0 {
		return nil
	}
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = string(v)
	}
	return out
}

// responseCarrier writes a propagator's headers into the response, under
// the canonical names an http.Header would give them.
type responseCarrier struct{ c *fiber.Ctx }

func (responseCarrier) Get(string) string { return "" }
func (responseCarrier) Keys() []string    { return nil }

func (r responseCarrier) Set(key, value string) { r.c.Set(canonicalKey(key), value) }

// canonicalKey is http.CanonicalHeaderKey, without its work for the names
// the W3C propagators write.
func canonicalKey(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return http.CanonicalHeaderKey(key)
}

var _ propagation.ValuesGetter = requestCarrier{}
