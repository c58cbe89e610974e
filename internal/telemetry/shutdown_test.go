package telemetry

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// slowExporter takes 300 ms over its first export, unless cancelled.
type slowExporter struct {
	sdkmetric.Exporter
	calls   atomic.Int32
	started chan struct{}
}

func (e *slowExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (e *slowExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *slowExporter) Export(ctx context.Context, _ *metricdata.ResourceMetrics) error {
	if e.calls.Add(1) > 1 {
		return nil
	}
	close(e.started)
	select {
	case <-time.After(300 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *slowExporter) ForceFlush(context.Context) error { return nil }
func (e *slowExporter) Shutdown(context.Context) error   { return nil }

// TestMetricsShutdownWaitsForTheExportInFlight: a SIGTERM that lands while
// a periodic export runs lets it finish, and reports no export problem.
// The reader's Shutdown alone cancels it (a warning in the end-to-end
// test's log, and with delta temporality the interval's data lost).
// Not parallel: the SDK's error handler is global.
func TestMetricsShutdownWaitsForTheExportInFlight(t *testing.T) {
	var mu sync.Mutex
	var handled []error
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		handled = append(handled, err)
		mu.Unlock()
	}))
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })
	exp := &slowExporter{started: make(chan struct{})}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp,
		sdkmetric.WithInterval(20*time.Millisecond))))
	counter, err := mp.Meter("test").Int64Counter("calls")
	require.NoError(t, err)
	counter.Add(context.Background(), 1)
	<-exp.started // a periodic export is in flight
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, stopMetrics(ctx, mp))
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, handled, "no export cancelled")
	require.GreaterOrEqual(t, exp.calls.Load(), int32(2), "the data exported again at shutdown")
}
