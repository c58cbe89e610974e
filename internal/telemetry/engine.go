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

	// Pre-built attribute sets, per label combination seen (attrcache.go):
	// the engine records a few measurements per step and per execution, and
	// building a set each time was most of their cost.
	byWorkflow       boundedCache[string, measurementOpts]
	byWorkflowStatus boundedCache[labelPair, measurementOpts]
	byExecutorStatus boundedCache[labelPair, measurementOpts]
	byProviderCall   boundedCache[providerCallLabels, measurementOpts]
}

// labelPair keys a two-attribute set (workflow.id or executor.id, and status).
type labelPair struct{ id, status string }

// providerCallLabels keys flowker.provider.call.duration's attribute set.
type providerCallLabels struct {
	target, outcome string
	statusCode      int
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
	m.started.Add(ctx, 1, m.byWorkflow.get(workflowID, workflowOpts).add...)
}

// ExecutionFinished counts an execution reaching status (completed, failed
// or cancelled) after d.
func (m *EngineMetrics) ExecutionFinished(ctx context.Context, workflowID, status string, d time.Duration) {
	if m == nil {
		return
	}
	o := m.byWorkflowStatus.get(labelPair{workflowID, status}, workflowStatusOpts)
	m.finished.Add(ctx, 1, o.add...)
	m.execDuration.Record(ctx, ms(d), o.record...)
}

// StepFinished records one executor step (engine overhead plus the call).
func (m *EngineMetrics) StepFinished(ctx context.Context, executorID, status string, d time.Duration) {
	if m == nil {
		return
	}
	m.stepDuration.Record(ctx, ms(d), m.byExecutorStatus.get(labelPair{executorID, status}, executorStatusOpts).record...)
}

// ProviderCall records one outbound call attempt. outcome is success,
// http_error, transport_error, auth_error, invalid_request,
// invalid_response, blocked, circuit_open or timeout; statusCode
// 0 (no response) is left out.
func (m *EngineMetrics) ProviderCall(ctx context.Context, target, outcome string, statusCode int, d time.Duration) {
	if m == nil {
		return
	}
	m.provider.Record(ctx, ms(d), m.byProviderCall.get(providerCallLabels{target, outcome, statusCode}, providerCallOpts).record...)
}

// The builders of the cached sets: plain functions (not closures), so a
// cache hit allocates nothing.

func workflowOpts(id string) measurementOpts {
	return newMeasurementOpts(attribute.String(FieldWorkflowID, id))
}

func workflowStatusOpts(k labelPair) measurementOpts {
	return newMeasurementOpts(attribute.String(FieldWorkflowID, k.id), attribute.String("status", k.status))
}

func executorStatusOpts(k labelPair) measurementOpts {
	return newMeasurementOpts(attribute.String(FieldExecutorID, k.id), attribute.String("status", k.status))
}

func providerCallOpts(k providerCallLabels) measurementOpts {
	if k.statusCode <= 0 {
		return newMeasurementOpts(attribute.String("target", k.target), attribute.String("outcome", k.outcome))
	}
	return newMeasurementOpts(attribute.String("target", k.target), attribute.String("outcome", k.outcome),
		attribute.Int("http.status_code", k.statusCode))
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
