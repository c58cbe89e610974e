package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// captureTransport records the request it was handed and answers with a
// fixed response or error.
type captureTransport struct {
	got *http.Request
	res *http.Response
	err error
}

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.got = r
	return c.res, c.err
}

func callerContext(t *testing.T, withSpan, withBaggage bool) context.Context {
	t.Helper()
	ctx := context.Background()
	if withSpan {
		state, err := trace.ParseTraceState("vendor=x")
		require.NoError(t, err)
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{0xa}, SpanID: trace.SpanID{0xb}, TraceFlags: trace.FlagsSampled, TraceState: state, Remote: true}))
	}
	if withBaggage {
		m, err := baggage.NewMember("tenant", "acme")
		require.NoError(t, err)
		b, err := baggage.New(m)
		require.NoError(t, err)
		ctx = baggage.ContextWithBaggage(ctx, b)
	}
	return ctx
}

func TestDisabledTransportOnlyPropagates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                  string
		withSpan, withBaggage bool
	}{{"no trace context", false, false}, {"a span context", true, false}, {"baggage only", false, true}, {"both", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := callerContext(t, c.withSpan, c.withBaggage)
			want := propagation.MapCarrier{}
			Propagator().Inject(ctx, want)

			body := io.NopCloser(strings.NewReader("payload"))
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://provider.example/score?api_key=k", body)
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header["X-Empty"] = nil
			before := req.Header.Clone()
			res := &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("ok"))}
			base := &captureTransport{res: res}

			got, err := (&propagatingTransport{base: base, prop: Propagator()}).RoundTrip(req)
			require.NoError(t, err)
			defer got.Body.Close()
			require.Same(t, res, got, "the response is the base's, untouched")
			require.True(t, res.Body == got.Body, "the response body is not wrapped")
			require.Equal(t, before, req.Header, "the caller's request is not modified")
			require.True(t, body == req.Body, "nor the request body replaced")

			if len(want) == 0 {
				require.Same(t, req, base.got, "nothing to propagate: the request goes through as it is")
				return
			}
			sent := base.got
			require.NotSame(t, req, sent, "a copy carries the headers")
			require.Same(t, req.URL, sent.URL)
			require.True(t, body == sent.Body, "the body is the caller's")
			require.Equal(t, ctx, sent.Context())
			for _, k := range []string{"traceparent", "tracestate", "baggage"} {
				require.Equal(t, want[k], sent.Header.Get(k), k)
				require.Empty(t, req.Header.Get(k), k)
			}
			require.Equal(t, "application/json", sent.Header.Get("Content-Type"))
			require.Contains(t, sent.Header, "X-Empty")
			require.Nil(t, sent.Header["X-Empty"], "nil values kept, as http.Header.Clone keeps them")
			require.Len(t, sent.Header, len(before)+len(want))
		})
	}
}

func TestDisabledTransportEdges(t *testing.T) {
	t.Parallel()
	// A request without a header map still gets the trace context.
	req := (&http.Request{Method: http.MethodGet, URL: mustURL(t, "http://provider.example/")}).WithContext(callerContext(t, true, false))
	base := &captureTransport{res: &http.Response{StatusCode: http.StatusNoContent}}
	res, err := (&propagatingTransport{base: base, prop: Propagator()}).RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Nil(t, req.Header)
	require.NotEmpty(t, base.got.Header.Get("traceparent"))
	require.Equal(t, http.NoBody, res.Body, "a response without a body gets an empty one, as from otelhttp")

	// Errors are the base's, unchanged.
	boom := errors.New("connection refused")
	base = &captureTransport{err: boom}
	answered, err := roundTripOnly(&propagatingTransport{base: base, prop: Propagator()}, req)
	require.Same(t, boom, err)
	require.False(t, answered)

	// What http.Client refuses from a RoundTripper is refused naming the base, as otelhttp did.
	// (otelhttp would panic on the request without a header map.)
	req, err = http.NewRequestWithContext(callerContext(t, true, false), http.MethodGet, "http://provider.example/", nil)
	require.NoError(t, err)
	for _, r := range []*http.Response{nil, {StatusCode: http.StatusOK, ContentLength: 5}} {
		base = &captureTransport{res: r}
		answered, err := roundTripOnly(&propagatingTransport{base: base, prop: Propagator()}, req)
		require.Error(t, err)
		require.False(t, answered)
		_, want := roundTripOnly(otelhttp.NewTransport(base, otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider())), req)
		require.EqualError(t, err, want.Error())
	}
}

// With telemetry off, otelhttp ran on the no-op providers: the provider
// received the caller's trace context and nothing else. So does it now.
func TestDisabledTransportSendsWhatOtelhttpSent(t *testing.T) {
	t.Parallel()
	received := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- r.Header.Clone()
		_, _ = io.Copy(w, r.Body)
	}))
	t.Cleanup(srv.Close)
	network := &http.Transport{}
	t.Cleanup(network.CloseIdleConnections)
	before := otelhttp.NewTransport(network, otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), otelhttp.WithPropagators(Propagator()))
	now := &propagatingTransport{base: network, prop: Propagator()}
	send := func(ctx context.Context, rt http.RoundTripper) (http.Header, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/score", strings.NewReader(`{"amount":1}`))
		require.NoError(t, err)
		res, err := rt.RoundTrip(req)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		return propagationOnly(<-received), string(body)
	}
	for _, ctx := range []context.Context{
		context.Background(), callerContext(t, true, false), callerContext(t, false, true), callerContext(t, true, true),
	} {
		wantHeaders, wantBody := send(ctx, before)
		gotHeaders, gotBody := send(ctx, now)
		require.Equal(t, wantHeaders, gotHeaders)
		require.Equal(t, wantBody, gotBody)
	}
}

// roundTripOnly sends req, closes the response if there is one, and
// reports whether there was.
func roundTripOnly(rt http.RoundTripper, req *http.Request) (bool, error) {
	res, err := rt.RoundTrip(req)
	if res == nil {
		return false, err
	}
	return true, errors.Join(err, res.Body.Close())
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

func propagationOnly(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range []string{"Traceparent", "Tracestate", "Baggage"} {
		if v, ok := h[k]; ok {
			out[k] = v
		}
	}
	return out
}

func TestHTTPTransportFollowsTheSwitch(t *testing.T) { // not parallel: flips enabled
	base := &captureTransport{}
	withTelemetry(t, false)
	require.IsType(t, &propagatingTransport{}, HTTPTransport(base))
	withTelemetry(t, true)
	require.IsType(t, &clientTransport{}, HTTPTransport(base))
}

// withTelemetry sets the enabled switch for the rest of the test.
func withTelemetry(t *testing.T, on bool) {
	t.Helper()
	was := enabled.Load()
	enabled.Store(on)
	t.Cleanup(func() { enabled.Store(was) })
}
