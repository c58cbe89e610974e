package telemetry

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// writeCounter is a connection that counts its writes.
type writeCounter struct {
	net.Conn
	writes *atomic.Int64
}

func (c writeCounter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// A provider call's body in memory leaves with its headers, in one write,
// telemetry on as off; what the transport read of it is still recorded,
// once it is done with it. A body net/http cannot tell is in memory is
// counted as it reads it.
func TestClientSendsABodyInMemoryWithItsHeaders(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	var writes atomic.Int64
	dialer := &net.Dialer{}
	base := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return writeCounter{Conn: c, writes: &writes}, nil
	}}
	t.Cleanup(base.CloseIdleConnections)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) })
	rt := newClientTransport(base, mp, Propagator())
	ctx, span := tp.Tracer("test").Start(context.Background(), "command.execution.execute_executor_node")
	defer span.End()

	payload := strings.Repeat(`{"amount":"125.50"}`, 50)
	send := func(body io.Reader) int64 {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, body)
		require.NoError(t, err)
		writes.Store(0)
		res, err := rt.RoundTrip(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		require.NoError(t, res.Body.Close())
		require.Equal(t, http.StatusCreated, res.StatusCode)
		return writes.Load()
	}
	for _, body := range []io.Reader{bytes.NewReader([]byte(payload)), strings.NewReader(payload), bytes.NewBufferString(payload)} {
		require.EqualValues(t, 1, send(body), "%T: headers and body in one write", body)
	}
	require.Greater(t, send(io.MultiReader(strings.NewReader(payload))), int64(1), "a body not known to be in memory")

	want := int64(4 * len(payload))
	require.Eventually(t, func() bool { // recorded once the writer is done with the body, maybe after the response
		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(context.Background(), &rm))
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if h, ok := m.Data.(metricdata.Histogram[int64]); ok && m.Name == "http.client.request.body.size" {
					var n uint64
					var sum int64
					for _, p := range h.DataPoints {
						n, sum = n+p.Count, sum+p.Sum
					}
					return n == 4 && sum == want
				}
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "four bodies of %d bytes recorded", len(payload))
}
