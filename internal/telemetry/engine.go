package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// EngineMetrics are the engine's instruments (meter flowker/engine). A nil
// *EngineMetrics records nothing, so tests may pass nil.
type EngineMetrics struct {
	started       metric.Int64Counter
	finished      metric.Int64Counter
	execDuration  metric.Float64Histogram
	stepDuration  metric.Float64Histogram
	provider      metric.Float64Histogram
	rescues       metric.Int64Counter
	decision      metric.Float64Histogram
	meter         metric.Meter
	queueDepthSet bool
	queueDepth    metric.Registration
	waiting       metric.Registration
}

// Metric names of EngineMetrics.
const (
	MetricExecutionsStarted    = "flowker.executions.started"
	MetricExecutionsFinished   = "flowker.executions.finished"
	MetricExecutionDuration    = "flowker.execution.duration"
	MetricStepDuration         = "flowker.step.duration"
	MetricProviderCallDuration = "flowker.provider.call.duration"
	MetricQueueDepth           = "flowker.queue.depth"
	MetricLeaseRescues         = "flowker.lease.rescues"
	MetricExecutionsWaiting    = "flowker.executions.waiting"
	MetricReviewOldestAge      = "flowker.review.oldest.age"
	MetricReviewDecisionTime   = "flowker.review.decision.duration"
)

// NewEngineMetrics creates the instruments on the global meter provider
// (call it after Setup).
func NewEngineMetrics() (*EngineMetrics, error) {
	return newEngineMetrics(otel.GetMeterProvider())
}

func newEngineMetrics(mp metric.MeterProvider) (*EngineMetrics, error) {
	m := mp.Meter("flowker/engine")
	e := &EngineMetrics{meter: m}
	var errs [7]error
	e.started, errs[0] = m.Int64Counter(MetricExecutionsStarted, metric.WithUnit("{execution}"),
		metric.WithDescription("Executions started (claimed by a worker for the first time), by workflow.id"))
	e.finished, errs[1] = m.Int64Counter(MetricExecutionsFinished, metric.WithUnit("{execution}"),
		metric.WithDescription("Executions that reached a final status (completed, failed, cancelled), by workflow.id and status"))
	e.execDuration, errs[2] = m.Float64Histogram(MetricExecutionDuration, metric.WithUnit("ms"),
		metric.WithDescription("Time from start to final status of an execution, by workflow.id and status"))
	e.stepDuration, errs[3] = m.Float64Histogram(MetricStepDuration, metric.WithUnit("ms"),
		metric.WithDescription("Time of one executor step, engine overhead plus the call, by executor.id and status"))
	e.provider, errs[4] = m.Float64Histogram(MetricProviderCallDuration, metric.WithUnit("ms"),
		metric.WithDescription("Time of one outbound provider call attempt, by target, outcome and http.status_code"))
	e.rescues, errs[5] = m.Int64Counter(MetricLeaseRescues, metric.WithUnit("{execution}"),
		metric.WithDescription("Executions whose expired lease was reclaimed by the rescuer"))
	e.decision, errs[6] = m.Float64Histogram(MetricReviewDecisionTime, metric.WithUnit("s"),
		metric.WithDescription("Time from a review task's creation to the decision that resolved it"))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return e, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ExecutionStarted counts an execution of workflowID starting.
func (m *EngineMetrics) ExecutionStarted(ctx context.Context, workflowID string) {
	if m == nil {
		return
	}
	m.started.Add(ctx, 1, metric.WithAttributes(attribute.String(FieldWorkflowID, workflowID)))
}

// ExecutionFinished counts an execution reaching status (completed, failed
// or cancelled) after d.
func (m *EngineMetrics) ExecutionFinished(ctx context.Context, workflowID, status string, d time.Duration) {
	if m == nil {
		return
	}
	attrs := metric.WithAttributes(attribute.String(FieldWorkflowID, workflowID), attribute.String("status", status))
	m.finished.Add(ctx, 1, attrs)
	m.execDuration.Record(ctx, ms(d), attrs)
}

// StepFinished records one executor step (engine overhead plus the call).
func (m *EngineMetrics) StepFinished(ctx context.Context, executorID, status string, d time.Duration) {
	if m == nil {
		return
	}
	m.stepDuration.Record(ctx, ms(d), metric.WithAttributes(
		attribute.String(FieldExecutorID, executorID), attribute.String("status", status)))
}

// ProviderCall records one outbound call attempt. outcome is success,
// http_error, transport_error, blocked, circuit_open or timeout; statusCode
// 0 (no response) is left out.
func (m *EngineMetrics) ProviderCall(ctx context.Context, target, outcome string, statusCode int, d time.Duration) {
	if m == nil {
		return
	}
	attrs := []attribute.KeyValue{attribute.String("target", target), attribute.String("outcome", outcome)}
	if statusCode > 0 {
		attrs = append(attrs, attribute.Int("http.status_code", statusCode))
	}
	m.provider.Record(ctx, ms(d), metric.WithAttributes(attrs...))
}

// LeaseRescued counts n executions reclaimed from expired leases.
func (m *EngineMetrics) LeaseRescued(ctx context.Context, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.rescues.Add(ctx, int64(n))
}

// ObserveQueueDepth registers f as the flowker.queue.depth gauge (executions
// waiting to be claimed), called at each metric export. Call it once.
func (m *EngineMetrics) ObserveQueueDepth(f func(ctx context.Context) (int64, error)) error {
	if m == nil {
		return nil
	}
	if m.queueDepthSet {
		return errors.New("telemetry: ObserveQueueDepth called twice")
	}
	g, err := m.meter.Int64ObservableGauge(MetricQueueDepth, metric.WithUnit("{execution}"),
		metric.WithDescription("Executions waiting to be claimed by a worker"))
	if err != nil {
		return err
	}
	reg, err := m.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		n, err := f(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(g, n)
		return nil
	}, g)
	if err == nil {
		m.queueDepthSet, m.queueDepth = true, reg
	}
	return err
}

// Close stops calling the queue-depth function. Call it before closing what
// that function reads (the store): the final metric export at telemetry
// shutdown comes after.
func (m *EngineMetrics) Close() error {
	if m == nil {
		return nil
	}
	var errs []error
	for _, reg := range []*metric.Registration{&m.queueDepth, &m.waiting} {
		if *reg != nil {
			errs = append(errs, (*reg).Unregister())
			*reg = nil
		}
	}
	return errors.Join(errs...)
}
