package telemetry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestRedactText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"no secrets here":                          "no secrets here",
		"https://kyc.example/check?api_key=abc&q=": "https://kyc.example/check?api_key=REDACTED&q=REDACTED",
		"/v1/workflows?limit=10":                   "/v1/workflows?limit=REDACTED",
		"Authorization: Bearer eyJhbGci.x.y":       "Authorization: Bearer REDACTED",
		"basic dXNlcjpwdw==, then":                 "basic REDACTED, then",
		"postgres://user:pw@db:5432/x":             "postgres://REDACTED@db:5432/x",
	} {
		require.Equal(t, want, redactText(in), in)
	}
}

func TestRedactingExporter(t *testing.T) {
	t.Parallel()
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(redactingExporter{mem}))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := tp.Tracer("t")

	_, span := tr.Start(context.Background(), "HTTP GET", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("url.full", "https://kyc.example/check?apikey=s3cret"),
		attribute.String("url.query", "apikey=s3cret&b=2"),
		attribute.String("server.address", "kyc.example")))
	err := errors.New(`Get "https://kyc.example/check?apikey=s3cret": dial tcp: refused`)
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	span.End()
	_, clean := tr.Start(context.Background(), "query.workflow.get", trace.WithAttributes(attribute.String("workflow.id", "w?x=1")))
	clean.End()

	spans := mem.GetSpans()
	require.Len(t, spans, 2)
	s := spans[0]
	dump := s.Status.Description
	attrs := attrMap(attribute.NewSet(s.Attributes...))
	for _, kv := range s.Attributes {
		dump += " " + kv.Value.String()
	}
	for _, ev := range s.Events {
		for _, kv := range ev.Attributes {
			dump += " " + kv.Value.String()
		}
	}
	require.NotContains(t, dump, "s3cret")
	require.Equal(t, "https://kyc.example/check?apikey=REDACTED", attrs["url.full"])
	require.Equal(t, "apikey=REDACTED&b=REDACTED", attrs["url.query"])
	require.Equal(t, "kyc.example", attrs["server.address"])
	require.True(t, strings.Contains(s.Status.Description, "apikey=REDACTED"))
	require.Equal(t, "w?x=1", attrMap(attribute.NewSet(spans[1].Attributes...))["workflow.id"], "only URL and error attributes are rewritten")
}
