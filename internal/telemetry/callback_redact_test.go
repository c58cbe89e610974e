package telemetry

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A callback URL's token is the callback's credential: the server span of
// a callback request, as exported, keeps the route and the path with the
// token redacted, in its attributes (http.target, http.url), its recorded
// error and its status.
func TestCallbackTokenNotExported(t *testing.T) {
	t.Parallel()
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(redactingExporter{mem}))
	mp := sdkmetric.NewMeterProvider()
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()); _ = mp.Shutdown(t.Context()) })
	app := fiber.New()
	app.Use(httpMiddleware(tp, mp, Propagator(), ProbePaths))
	app.Post("/v1/callbacks/:token", func(c *fiber.Ctx) error {
		return fmt.Errorf("callback %s refused", c.OriginalURL())
	})
	const token = "AZOQ8yVqd6mS0rVvZ3t5pA9Jb1qK3nX0cE2fT7hY-_wLmN4o"
	for _, path := range []string{"/v1/callbacks/" + token, "/V1/Callbacks/" + token + "?retry=1"} {
		resp, err := app.Test(httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, nil))
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}

	spans := mem.GetSpans()
	require.Len(t, spans, 2)
	for _, s := range spans {
		require.Equal(t, "POST /v1/callbacks/:token", s.Name)
		dump := s.Name + " " + s.Status.Description
		for _, kv := range s.Attributes {
			dump += " " + string(kv.Key) + "=" + kv.Value.String()
		}
		for _, ev := range s.Events {
			for _, kv := range ev.Attributes {
				dump += " " + string(kv.Key) + "=" + kv.Value.String()
			}
		}
		require.NotContains(t, dump, token[4:])
		require.Contains(t, strings.ToLower(dump), "callbacks/redacted")
	}
	target := attrMap(attribute.NewSet(spans[0].Attributes...))["http.target"]
	require.Equal(t, "/v1/callbacks/REDACTED", target)
	require.True(t, strings.HasPrefix(attrMap(attribute.NewSet(spans[1].Attributes...))["http.target"],
		"/V1/Callbacks/REDACTED?retry="), "any case, as routed")
}
