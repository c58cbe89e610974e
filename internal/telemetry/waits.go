package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// ReviewDecided records the time a review waited for the decision that
// resolved it.
func (m *EngineMetrics) ReviewDecided(ctx context.Context, d time.Duration) {
	if m == nil {
		return
	}
	m.decision.Record(ctx, d.Seconds())
}

// ObserveWaiting registers the waiting gauges, read from f at each export:
// executions waiting, and the age of the oldest open review (0 without
// one). Call it once.
func (m *EngineMetrics) ObserveWaiting(f func(ctx context.Context) (int64, *time.Time, error)) error {
	if m == nil {
		return nil
	}
	if m.waiting != nil {
		return errors.New("telemetry: ObserveWaiting called twice")
	}
	waiting, err1 := m.meter.Int64ObservableGauge(MetricExecutionsWaiting, metric.WithUnit("{execution}"),
		metric.WithDescription("Executions waiting for a review, a callback or a timer"))
	oldest, err2 := m.meter.Float64ObservableGauge(MetricReviewOldestAge, metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest open review task"))
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	reg, err := m.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		n, since, err := f(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(waiting, n)
		age := 0.0
		if since != nil {
			age = time.Since(*since).Seconds()
		}
		o.ObserveFloat64(oldest, age)
		return nil
	}, waiting, oldest)
	if err == nil {
		m.waiting = reg
	}
	return err
}
