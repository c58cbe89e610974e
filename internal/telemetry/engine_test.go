package telemetry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestEngineMetrics(t *testing.T) {
	t.Parallel()
	_, _, mp, reader := testProviders(t)
	m, err := newEngineMetrics(mp)
	require.NoError(t, err)
	ctx := context.Background()

	m.ExecutionStarted(ctx, "wf-1")
	m.ExecutionStarted(ctx, "wf-1")
	m.ExecutionFinished(ctx, "wf-1", "completed", 12*time.Millisecond)
	m.ExecutionFinished(ctx, "wf-1", "failed", 3*time.Millisecond)
	m.StepFinished(ctx, "tracer.validate-transaction", "completed", 400*time.Microsecond)
	m.ProviderCall(ctx, "tracer", "success", 200, 2*time.Millisecond)
	m.ProviderCall(ctx, "tracer", "transport_error", 0, time.Second)
	m.LeaseRescued(ctx, 3)
	m.LeaseRescued(ctx, 0)
	require.NoError(t, m.ObserveQueueDepth(func(context.Context) (int64, error) { return 7, nil }))
	require.Error(t, m.ObserveQueueDepth(func(context.Context) (int64, error) { return 0, nil }), "one gauge")

	got := collect(t, reader)
	sum := func(name string) map[string]int64 {
		s, ok := got[name].Data.(metricdata.Sum[int64])
		require.True(t, ok, name)
		out := map[string]int64{}
		for _, dp := range s.DataPoints {
			a := attrMap(dp.Attributes)
			out[a["workflow.id"]+"/"+a["status"]] = dp.Value
		}
		return out
	}
	hist := func(name string) map[string]uint64 {
		h, ok := got[name].Data.(metricdata.Histogram[float64])
		require.True(t, ok, name)
		require.Equal(t, "ms", got[name].Unit, name)
		out := map[string]uint64{}
		for _, dp := range h.DataPoints {
			require.Equal(t, LatencyBucketsMS, dp.Bounds, name)
			a := attrMap(dp.Attributes)
			out[a["workflow.id"]+a["executor.id"]+a["target"]+"/"+a["status"]+a["outcome"]+"/"+a["http.status_code"]] = dp.Count
		}
		return out
	}
	require.Equal(t, map[string]int64{"wf-1/": 2}, sum(MetricExecutionsStarted))
	require.Equal(t, map[string]int64{"wf-1/completed": 1, "wf-1/failed": 1}, sum(MetricExecutionsFinished))
	require.Equal(t, map[string]int64{"/": 3}, sum(MetricLeaseRescues))
	require.Equal(t, map[string]uint64{"wf-1/completed/": 1, "wf-1/failed/": 1}, hist(MetricExecutionDuration))
	require.Equal(t, map[string]uint64{"tracer.validate-transaction/completed/": 1}, hist(MetricStepDuration))
	require.Equal(t, map[string]uint64{"tracer/success/200": 1, "tracer/transport_error/": 1}, hist(MetricProviderCallDuration))
	g, ok := got[MetricQueueDepth].Data.(metricdata.Gauge[int64])
	require.True(t, ok)
	require.Equal(t, int64(7), g.DataPoints[0].Value)

	// After Close the function is no longer called (the store may be closed).
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			require.NotEqual(t, MetricQueueDepth, mt.Name)
		}
	}
}

func TestNilEngineMetricsRecordNothing(t *testing.T) {
	t.Parallel()
	var m *EngineMetrics
	ctx := context.Background()
	m.ExecutionStarted(ctx, "wf")
	m.ExecutionFinished(ctx, "wf", "completed", time.Millisecond)
	m.StepFinished(ctx, "x", "completed", time.Millisecond)
	m.ProviderCall(ctx, "t", "success", 200, time.Millisecond)
	m.LeaseRescued(ctx, 1)
	require.NoError(t, m.ObserveQueueDepth(func(context.Context) (int64, error) { return 0, errors.New("never called") }))
	require.NoError(t, m.Close())
}

func TestNewEngineMetricsOnTheGlobalProvider(t *testing.T) {
	t.Parallel()
	m, err := NewEngineMetrics()
	require.NoError(t, err)
	m.ExecutionStarted(context.Background(), "wf") // no-op or SDK: must not panic
}

func TestWaitingMetrics(t *testing.T) {
	t.Parallel()
	_, _, mp, reader := testProviders(t)
	m, err := newEngineMetrics(mp)
	require.NoError(t, err)
	ctx := context.Background()
	m.ReviewDecided(ctx, 90*time.Minute)
	oldest := time.Now().Add(-2 * time.Hour)
	require.NoError(t, m.ObserveWaiting(func(context.Context) (int64, *time.Time, error) { return 42, &oldest, nil }))
	require.Error(t, m.ObserveWaiting(func(context.Context) (int64, *time.Time, error) { return 0, nil, nil }), "once")

	got := collect(t, reader)
	waiting, ok := got[MetricExecutionsWaiting].Data.(metricdata.Gauge[int64])
	require.True(t, ok)
	require.EqualValues(t, 42, waiting.DataPoints[0].Value)
	age, ok := got[MetricReviewOldestAge].Data.(metricdata.Gauge[float64])
	require.True(t, ok)
	require.InDelta(t, 7200, age.DataPoints[0].Value, 60)
	h, ok := got[MetricReviewDecisionTime].Data.(metricdata.Histogram[float64])
	require.True(t, ok)
	require.Equal(t, "s", got[MetricReviewDecisionTime].Unit)
	require.Equal(t, WaitBucketsS, h.DataPoints[0].Bounds, "human-time buckets, not latency ones")
	require.EqualValues(t, 1, h.DataPoints[0].Count)
	require.NoError(t, m.Close())
}
