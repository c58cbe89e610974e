package telemetry

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The server instrumentation (httpserver.go) replaced otelfiber on the
// promise that it emits exactly what otelfiber, as configured here, emitted.
// This test holds it to that: the same requests go through an app with
// each, on identical SDK providers (the same deterministic span ids), and
// every span, every metric data point, every response header and what the
// handlers see of the trace context must be equal — not just the names.

// sequentialIDs hands out trace and span ids 1, 2, 3, …: two providers
// given one each produce the same ids for the same spans.
type sequentialIDs struct {
	mu sync.Mutex
	n  uint64
}

func (g *sequentialIDs) next() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return g.n
}

func (g *sequentialIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	var tid trace.TraceID
	binary.BigEndian.PutUint64(tid[8:], g.next())
	return tid, g.NewSpanID(context.Background(), tid)
}

func (g *sequentialIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	var sid trace.SpanID
	binary.BigEndian.PutUint64(sid[:], g.next())
	return sid
}

// instrumentedApp is a Fiber app shaped like Flowker's (Immutable, an error
// handler writing the status, recover outside and inside the telemetry)
// with one telemetry middleware, recording what it exports.
type instrumentedApp struct {
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
	handler fasthttp.RequestHandler
	ctx     fasthttp.RequestCtx // reused, as the server reuses it: a string kept as a view of it would change
	served  int
	seen    []string // per request, what the handler saw of the trace context and URL
}

// appShape is how the compared apps are configured.
type appShape struct {
	innerRecover bool // as Flowker's: a handler panic becomes a 500 inside the span
	mutable      bool // fiber's strings are views of fasthttp's buffers (Flowker's are Immutable)
}

func newInstrumentedApp(t *testing.T, v sdkmetric.View, shape appShape,
	middleware func(trace.TracerProvider, *sdkmetric.MeterProvider, []string) fiber.Handler,
) *instrumentedApp {
	t.Helper()
	a := &instrumentedApp{spans: tracetest.NewSpanRecorder(), metrics: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(a.spans), sdktrace.WithIDGenerator(&sequentialIDs{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(a.metrics), sdkmetric.WithView(v))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	app := fiber.New(fiber.Config{
		Immutable: !shape.mutable, CaseSensitive: false, StrictRouting: false,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := http.StatusInternalServerError
			var fe *fiber.Error
			if errors.As(err, &fe) {
				code = fe.Code
			}
			return c.Status(code).JSON(fiber.Map{"error": err.Error()})
		},
	})
	panics := recover.New()
	app.Use(panics)
	app.Use(middleware(tp, mp, ProbePaths))
	if shape.innerRecover {
		app.Use(panics)
	}
	see := func(c *fiber.Ctx) {
		ctx := c.UserContext()
		sc := trace.SpanContextFromContext(ctx)
		a.seen = append(a.seen, fmt.Sprintf("%s %s remote=%t sampled=%t baggage=%q url=%s", sc.TraceID(), sc.SpanID(),
			sc.IsRemote(), sc.IsSampled(), sortedMembers(baggage.FromContext(ctx).String()), c.OriginalURL()))
	}
	app.Get("/health/live", func(c *fiber.Ctx) error { see(c); return c.SendString("alive") })
	v1 := app.Group("/v1", func(c *fiber.Ctx) error { see(c); return c.Next() })
	v1.Get("/workflows/:id", func(c *fiber.Ctx) error {
		switch c.Params("id") {
		case "missing":
			return fiber.ErrNotFound
		case "broken":
			return errors.New("database unreachable")
		case "unavailable":
			return c.Status(http.StatusServiceUnavailable).SendString("draining")
		case "odd":
			return c.Status(299).SendString("odd")
		case "panic":
			panic("handler panic")
		}
		return c.JSON(fiber.Map{"id": c.Params("id")})
	})
	v1.Post("/workflows", func(c *fiber.Ctx) error { return c.Status(http.StatusCreated).Send(c.Body()) })
	v1.Head("/workflows/:id", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusOK) })
	a.handler = app.Handler()
	return a
}

// equivalenceRequest is one request of the comparison.
type equivalenceRequest struct {
	method, uri string
	headers     [][2]string
	body        string
	http10      bool
}

func (a *instrumentedApp) serve(r equivalenceRequest) []string {
	var req fasthttp.Request
	req.Header.SetMethod(r.method)
	req.SetRequestURI(r.uri)
	a.served++
	req.Header.SetHost(fmt.Sprintf("flowker-%d.example:4021", a.served)) // varies, to tell copies from views
	req.Header.SetProtocol("HTTP/1.1")
	if r.http10 {
		req.Header.SetProtocol("HTTP/1.0")
	}
	for _, h := range r.headers {
		req.Header.Add(h[0], h[1])
	}
	if r.body != "" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(r.body)
	}
	ctx := &a.ctx
	ctx.Response.Reset()
	ctx.ResetUserValues()
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 51234}, nil)
	a.handler(ctx)
	var out []string
	ctx.Response.Header.VisitAll(func(k, v []byte) {
		if string(k) == "Baggage" {
			v = []byte(sortedMembers(string(v)))
		}
		out = append(out, string(k)+": "+string(v))
	})
	slices.Sort(out) // otelfiber sets the propagation headers in map order
	return append(out, fmt.Sprintf("status %d body %q", ctx.Response.StatusCode(), ctx.Response.Body()))
}

// spanRecord is everything an exporter can read of a span, but its times.
func spanRecord(s sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name=%q kind=%s scope=%s@%s\n", s.Name(), s.SpanKind(), s.InstrumentationScope().Name, s.InstrumentationScope().Version)
	fmt.Fprintf(&b, "trace=%s span=%s flags=%s parent=%s/%s remote=%t\n", s.SpanContext().TraceID(), s.SpanContext().SpanID(),
		s.SpanContext().TraceFlags(), s.Parent().TraceID(), s.Parent().SpanID(), s.Parent().IsRemote())
	fmt.Fprintf(&b, "tracestate=%q status=%s %q dropped=%d\n", s.SpanContext().TraceState().String(), s.Status().Code,
		s.Status().Description, s.DroppedAttributes())
	for _, kv := range s.Attributes() {
		fmt.Fprintf(&b, "  %s=%s(%s)\n", kv.Key, kv.Value.Type(), kv.Value.String())
	}
	for _, ev := range s.Events() {
		fmt.Fprintf(&b, "  event %q\n", ev.Name)
		for _, kv := range ev.Attributes {
			fmt.Fprintf(&b, "    %s=%s(%s)\n", kv.Key, kv.Value.Type(), kv.Value.String())
		}
	}
	fmt.Fprintf(&b, "links=%d children=%d", len(s.Links()), s.ChildSpanCount())
	return b.String()
}

// metricRecords flattens a collection to comparable lines: scope, name,
// description, unit, kind, and per data point its attributes, count,
// bounds and value (durations vary between runs: their sums are left out,
// their counts are not).
func metricRecords(t *testing.T, r *sdkmetric.ManualReader) []string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			head := fmt.Sprintf("%s@%s %s %q unit=%q", sm.Scope.Name, sm.Scope.Version, m.Name, m.Description, m.Unit)
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out = append(out, fmt.Sprintf("%s histogram[float64] %s {%s} count=%d bounds=%v",
						head, d.Temporality, dp.Attributes.Encoded(attributeEncoder), dp.Count, dp.Bounds))
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, fmt.Sprintf("%s histogram[int64] %s {%s} count=%d bounds=%v sum=%d buckets=%v",
						head, d.Temporality, dp.Attributes.Encoded(attributeEncoder), dp.Count, dp.Bounds, dp.Sum, dp.BucketCounts))
				}
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, fmt.Sprintf("%s sum[int64] monotonic=%t %s {%s} value=%d exemplars=%d",
						head, d.IsMonotonic, d.Temporality, dp.Attributes.Encoded(attributeEncoder), dp.Value, len(dp.Exemplars)))
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	slices.Sort(out)
	return out
}

var attributeEncoder = newTypedEncoder()

// referenceAndLean are the two apps compared: otelfiber with the view it
// had, and the server instrumentation with today's.
func referenceAndLean(t *testing.T, shape appShape) (reference, lean *instrumentedApp) {
	t.Helper()
	reference = newInstrumentedApp(t, otelfiberView, shape, func(tp trace.TracerProvider, mp *sdkmetric.MeterProvider, noSpan []string) fiber.Handler {
		return otelfiberMiddleware(tp, mp, Propagator(), noSpan)
	})
	lean = newInstrumentedApp(t, view, shape, func(tp trace.TracerProvider, mp *sdkmetric.MeterProvider, noSpan []string) fiber.Handler {
		return httpMiddleware(tp, mp, Propagator(), noSpan)
	})
	return reference, lean
}

// requireSameTelemetry compares everything both apps exported.
func requireSameTelemetry(t *testing.T, reference, lean *instrumentedApp) (spans, streams int) {
	t.Helper()
	require.Equal(t, reference.seen, lean.seen, "what handlers see of the request")
	want, got := reference.spans.Ended(), lean.spans.Ended()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, spanRecord(want[i]), spanRecord(got[i]), "span %d", i)
	}
	wantMetrics := metricRecords(t, reference.metrics)
	require.Equal(t, wantMetrics, metricRecords(t, lean.metrics))
	return len(want), len(wantMetrics)
}

func TestServerTelemetryEmitsWhatOtelfiberEmitted(t *testing.T) {
	t.Parallel()
	for _, shape := range []appShape{{innerRecover: true}, {innerRecover: true, mutable: true}} {
		t.Run(fmt.Sprintf("%+v", shape), func(t *testing.T) {
			t.Parallel()
			compareOnRequests(t, shape)
		})
	}
}

func compareOnRequests(t *testing.T, shape appShape) {
	reference, lean := referenceAndLean(t, shape)

	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ops-user:pa55word"))
	requests := []equivalenceRequest{
		{method: "GET", uri: "/v1/workflows/0193?limit=5&name=a%20b", headers: [][2]string{{"traceparent", parent}, {"User-Agent", "core-banking/1.0"}}},
		{method: "GET", uri: "/v1/workflows/0193"}, // no caller trace: a new root
		{method: "GET", uri: "/v1/workflows/0193", headers: [][2]string{
			{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}, // not sampled
			{"tracestate", "vendor=opaque,other=1"}, {"baggage", "tenant=acme"}, {"baggage", "region=eu"},
		}},
		{method: "GET", uri: "/v1/workflows/0193", headers: [][2]string{{"traceparent", "garbage"}}},
		{method: "POST", uri: "/v1/workflows", body: `{"name":"payments"}`, headers: [][2]string{{"Authorization", basic}}},
		{method: "POST", uri: "/v1/workflows", body: `{}`, headers: [][2]string{{"Authorization", "Bearer t0ken"}}},
		{method: "GET", uri: "/v1/workflows/missing"},
		{method: "GET", uri: "/v1/workflows/broken"},
		{method: "GET", uri: "/v1/workflows/unavailable"},
		{method: "GET", uri: "/v1/workflows/odd"},
		{method: "GET", uri: "/v1/workflows/panic", headers: [][2]string{{"traceparent", parent}}},
		{method: "GET", uri: "/v1/nothing-here"},   // no route: named after the group
		{method: "DELETE", uri: "/v1/workflows/x"}, // a method the route does not take
		{method: "HEAD", uri: "/v1/workflows/0193"},
		{method: "GET", uri: "/v1//workflows/../workflows/%61bc?x=%2F"}, // normalised by fasthttp
		{method: "GET", uri: "/V1/Workflows/0193/"},                     // case and trailing slash
		{method: "GET", uri: "/v1/workflows/0193", http10: true},
		{method: "GET", uri: "/health/live", headers: [][2]string{{"traceparent", parent}}}, // probes: no span, metrics
		{method: "GET", uri: "/Health/Live/"},
	}
	for _, r := range requests {
		require.Equal(t, reference.serve(r), lean.serve(r), "response to %s %s", r.method, r.uri)
	}
	spans, streams := requireSameTelemetry(t, reference, lean)
	require.Equal(t, len(requests)-3, spans, "probes make no span, an unsampled caller's request records none")
	require.Equal(t, 38, streams, "4 instruments by method, protocol, route and status")
}

// A panic no recover turned into an error before it reached the
// middleware: the span ends with what was known at the start, under the
// raw path, and the request stays counted in flight — as with otelfiber.
func TestServerTelemetryOnAPanicIsOtelfibersToo(t *testing.T) {
	t.Parallel()
	reference, lean := referenceAndLean(t, appShape{})
	r := equivalenceRequest{method: "GET", uri: "/v1/workflows/panic", headers: [][2]string{
		{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}}
	require.Equal(t, reference.serve(r), lean.serve(r))
	spans, _ := requireSameTelemetry(t, reference, lean)
	require.Equal(t, 1, spans)
	require.Equal(t, "/v1/workflows/panic", lean.spans.Ended()[0].Name())
}

// typedEncoder writes attributes with their types: an int 200 and a
// string "200" are different attributes to a backend.
type typedEncoder struct{ id attribute.EncoderID }

func newTypedEncoder() typedEncoder { return typedEncoder{id: attribute.NewEncoderID()} }

func (e typedEncoder) ID() attribute.EncoderID { return e.id }

func (typedEncoder) Encode(it attribute.Iterator) string {
	var parts []string
	for it.Next() {
		kv := it.Attribute()
		parts = append(parts, fmt.Sprintf("%s=%s(%s)", kv.Key, kv.Value.Type(), kv.Value.String()))
	}
	return strings.Join(parts, " ")
}

// sortedMembers sorts a baggage header's members: the baggage API keeps
// them in a map, so their order varies from one call to the next.
func sortedMembers(b string) string {
	m := strings.Split(b, ",")
	slices.Sort(m)
	return strings.Join(m, ",")
}
