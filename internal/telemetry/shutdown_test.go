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

// slowExporter takes first over its first export, unless its context
// ends; every later export still in time delivers at once, keeping the
// counter's value.
type slowExporter struct {
	first     time.Duration
	calls     atomic.Int32
	started   chan struct{}
	delivered atomic.Int64
}

func (e *slowExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (e *slowExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *slowExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if e.calls.Add(1) == 1 {
		close(e.started)
		select {
		case <-time.After(e.first):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return err // too late, as an OTLP exporter would find it
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range s.DataPoints {
					e.delivered.Store(dp.Value)
				}
			}
		}
	}
	return nil
}

func (e *slowExporter) ForceFlush(context.Context) error { return nil }
func (e *slowExporter) Shutdown(context.Context) error   { return nil }

// stopWhileExporting stops a meter provider within limit while the first
// periodic export is in flight, one count recorded before it and one
// after, and reports what the SDK called a problem meanwhile.
// Not parallel: the SDK's error handler is global.
func stopWhileExporting(t *testing.T, exp *slowExporter, limit time.Duration) (handled []error) {
	var mu sync.Mutex
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		handled = append(handled, err)
		mu.Unlock()
	}))
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })
	exp.started = make(chan struct{})
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp,
		sdkmetric.WithInterval(20*time.Millisecond))))
	counter, err := mp.Meter("test").Int64Counter("calls")
	require.NoError(t, err)
	counter.Add(context.Background(), 1)
	<-exp.started // a periodic export is in flight
	counter.Add(context.Background(), 1)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	require.NoError(t, stopMetrics(ctx, mp))
	mu.Lock()
	defer mu.Unlock()
	return handled
}

// TestMetricsShutdownWaitsForTheExportInFlight: a SIGTERM that lands while
// a periodic export runs lets it finish, and reports no export problem.
// The reader's Shutdown alone cancels it (a warning in the end-to-end
// test's log, and with delta temporality the interval's data lost).
func TestMetricsShutdownWaitsForTheExportInFlight(t *testing.T) {
	exp := &slowExporter{first: 300 * time.Millisecond}
	require.Empty(t, stopWhileExporting(t, exp, 5*time.Second), "no export cancelled")
	require.Equal(t, int64(2), exp.delivered.Load(), "everything exported at shutdown")
}

// TestMetricsShutdownOutlastsAStuckExport: an export stuck in its retry
// backoff (a collector restarting: the OTLP exporters wait 5 s first) is
// waited for half the time only, then cancelled, and the final export
// still delivers everything (found by a review: waiting for it used the
// whole budget, and nothing was sent).
func TestMetricsShutdownOutlastsAStuckExport(t *testing.T) {
	exp := &slowExporter{first: time.Minute}
	stopWhileExporting(t, exp, time.Second)
	require.Equal(t, int64(2), exp.delivered.Load(), "the final data delivered")
}
