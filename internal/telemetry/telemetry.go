// Package telemetry sets up Flowker's three signals — traces, metrics and
// logs — and installs them as the process-wide OpenTelemetry providers, so
// every instrumentation that uses the global API (otelfiber, otelhttp, the
// service spans, the otelzap log bridge, the engine metrics) exports. With
// telemetry disabled only the W3C propagator is installed and the global
// providers stay no-ops: nothing is recorded and nothing leaves the process.
//
// docs/telemetry.md describes every span, metric and log field.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"

	"flowker/internal/config"
)

// Telemetry holds the SDK providers installed by Setup. The zero value (and
// nil) is "disabled": every method is a no-op.
type Telemetry struct {
	traces  *sdktrace.TracerProvider
	metrics *sdkmetric.MeterProvider
	logs    *sdklog.LoggerProvider
}

// enabled is set once Setup installed the SDK providers (HTTPMiddleware
// reads it).
var enabled atomic.Bool

// Propagator is the W3C TraceContext + Baggage propagator Setup installs.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Setup installs the W3C propagator and, when cfg.Enabled, OTLP exporters for
// traces, metrics and logs behind the global tracer, meter and logger
// providers, plus the host CPU and memory gauges. diag receives the SDK's own
// problems (an unreachable collector, a rejected export) as warnings; it
// should write to stderr only, never to the OTLP log export (that would
// loop). An error names the variable at fault.
func Setup(ctx context.Context, cfg config.Telemetry, diag *zap.Logger) (*Telemetry, error) {
	otel.SetTextMapPropagator(Propagator())
	if !cfg.Enabled {
		return &Telemetry{}, nil
	}
	if diag == nil {
		diag = zap.NewNop()
	}
	ep, err := parseEndpoint(cfg.Endpoint, cfg.Protocol)
	if err != nil {
		return nil, err
	}
	installDiagnostics(diag, cfg.Endpoint)

	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	spanExp, metricExp, logExp, err := newExporters(ctx, ep)
	if err != nil {
		return nil, err
	}
	t := &Telemetry{
		traces: sdktrace.NewTracerProvider(
			sdktrace.WithResource(res),
			// Redaction happens on the export goroutine, off the request path.
			sdktrace.WithBatcher(redactingExporter{spanExp}),
			// No sampler option: OTEL_TRACES_SAMPLER is honoured, default parentbased_always_on.
		),
		metrics: sdkmetric.NewMeterProvider(
			sdkmetric.WithResource(res),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp, sdkmetric.WithInterval(cfg.MetricInterval))),
			sdkmetric.WithView(view),
		),
		logs: sdklog.NewLoggerProvider(
			sdklog.WithResource(res),
			sdklog.WithProcessor(sdklog.NewBatchProcessor(logExp)),
		),
	}
	otel.SetTracerProvider(t.traces)
	enabled.Store(true)
	otel.SetMeterProvider(t.metrics)
	otel.SetLoggerProvider(t.logs)
	if err := registerSystemMetrics(t.metrics); err != nil {
		return nil, errors.Join(err, t.Shutdown(ctx))
	}
	return t, nil
}

// Enabled reports whether signals are exported.
func (t *Telemetry) Enabled() bool { return t != nil && t.traces != nil }

// LoggerProvider is the OTLP log provider, nil when disabled.
func (t *Telemetry) LoggerProvider() otellog.LoggerProvider {
	if !t.Enabled() {
		return nil
	}
	return t.logs
}

// Shutdown flushes and stops the three providers, concurrently, within
// ctx's deadline. Call it last: after it, spans, metrics and logs are
// dropped.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for name, stop := range map[string]func(context.Context) error{
		"traces": t.traces.Shutdown, "metrics": func(ctx context.Context) error { return stopMetrics(ctx, t.metrics) },
		"logs": t.logs.Shutdown,
	} {
		wg.Go(func() {
			if err := stop(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("flushing %s: %w", name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stopMetrics flushes, then shuts down. The periodic reader's Shutdown
// cancels an export it finds in flight, which the SDK reports as an export
// problem (and with delta temporality that interval's data is lost);
// ForceFlush waits for it instead, then exports, and restarts the interval,
// so Shutdown right after finds no export running. ForceFlush gets half of
// ctx's time: an export stuck in its retry backoff is then cancelled by
// Shutdown, whose final export (cumulative: everything) keeps the rest.
// Its error is Shutdown's to report: that export is the one that counts.
func stopMetrics(ctx context.Context, mp *sdkmetric.MeterProvider) error {
	flush := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		flush, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/2))
		defer cancel()
	}
	_ = mp.ForceFlush(flush)
	return mp.Shutdown(ctx)
}

// endpoint is OTEL_EXPORTER_OTLP_ENDPOINT taken apart.
type endpoint struct {
	protocol string // grpc or http/protobuf
	hostPort string
	path     string // base path for http/protobuf ("" or "/prefix")
	insecure bool
}

// parseEndpoint accepts host:port (plaintext, the usual collector sidecar
// or in-cluster service), http://host:port (plaintext) and
// https://host:port (TLS with the system roots).
func parseEndpoint(raw, protocol string) (endpoint, error) {
	const name = "OTEL_EXPORTER_OTLP_ENDPOINT"
	bad := func(why string) error {
		shown := strconv.Quote(raw)
		if strings.Contains(raw, "@") {
			shown = "(value hidden: it carries credentials)"
		}
		return fmt.Errorf("%s is %s: %s; use host:port, http://host:port or https://host:port", name, shown, why)
	}
	ep := endpoint{protocol: protocol, insecure: true}
	if protocol == "" {
		ep.protocol = "grpc"
	}
	if !strings.Contains(raw, "://") {
		host, port, err := net.SplitHostPort(raw)
		if err != nil || host == "" || port == "" {
			return ep, bad("not host:port")
		}
		ep.hostPort = raw
		return ep, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ep, bad("not a URL")
	}
	switch u.Scheme {
	case "http":
	case "https":
		ep.insecure = false
	default:
		return ep, bad("unknown scheme " + strconv.Quote(u.Scheme))
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return ep, bad("must be scheme://host[:port][/path] with no credentials, query or fragment")
	}
	ep.hostPort = u.Host
	ep.path = strings.TrimRight(u.Path, "/")
	if ep.path != "" && ep.protocol == "grpc" {
		return ep, bad("a gRPC endpoint has no path")
	}
	return ep, nil
}

func newExporters(ctx context.Context, ep endpoint) (sdktrace.SpanExporter, sdkmetric.Exporter, sdklog.Exporter, error) {
	var (
		se  sdktrace.SpanExporter
		me  sdkmetric.Exporter
		le  sdklog.Exporter
		err error
	)
	if ep.protocol == "http/protobuf" {
		traceOpts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(ep.hostPort), otlptracehttp.WithURLPath(ep.path + "/v1/traces")}
		metricOpts := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpoint(ep.hostPort), otlpmetrichttp.WithURLPath(ep.path + "/v1/metrics")}
		logOpts := []otlploghttp.Option{otlploghttp.WithEndpoint(ep.hostPort), otlploghttp.WithURLPath(ep.path + "/v1/logs")}
		if ep.insecure {
			traceOpts = append(traceOpts, otlptracehttp.WithInsecure())
			metricOpts = append(metricOpts, otlpmetrichttp.WithInsecure())
			logOpts = append(logOpts, otlploghttp.WithInsecure())
		}
		se, err = otlptracehttp.New(ctx, traceOpts...)
		if err == nil {
			me, err = otlpmetrichttp.New(ctx, metricOpts...)
		}
		if err == nil {
			le, err = otlploghttp.New(ctx, logOpts...)
		}
	} else {
		traceOpts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(ep.hostPort)}
		metricOpts := []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpoint(ep.hostPort)}
		logOpts := []otlploggrpc.Option{otlploggrpc.WithEndpoint(ep.hostPort)}
		if ep.insecure {
			traceOpts = append(traceOpts, otlptracegrpc.WithInsecure())
			metricOpts = append(metricOpts, otlpmetricgrpc.WithInsecure())
			logOpts = append(logOpts, otlploggrpc.WithInsecure())
		}
		se, err = otlptracegrpc.New(ctx, traceOpts...)
		if err == nil {
			me, err = otlpmetricgrpc.New(ctx, metricOpts...)
		}
		if err == nil {
			le, err = otlploggrpc.New(ctx, logOpts...)
		}
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("OTLP exporter for %s: %w", ep.hostPort, err)
	}
	return se, me, le, nil
}

// newResource describes this process. Precedence, lowest first: SDK and
// host facts, service.instance.id, OTEL_RESOURCE_ATTRIBUTES /
// OTEL_SERVICE_NAME, then Flowker's own OTEL_RESOURCE_* variables.
func newResource(ctx context.Context, cfg config.Telemetry) (*resource.Resource, error) {
	host, _ := os.Hostname()
	instance := host + "-" + strconv.Itoa(os.Getpid()) // a pod name in Kubernetes; unique per replica
	base, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(attribute.String("service.instance.id", instance)),
		resource.WithFromEnv(),
	)
	if err != nil && base == nil {
		return nil, err
	}
	ours := resource.NewSchemaless(
		attribute.String("service.name", cfg.ServiceName),
		attribute.String("service.version", cfg.ServiceVersion),
		attribute.String("deployment.environment.name", cfg.Environment),
		attribute.String("deployment.environment", cfg.Environment), // pre-1.27 name, still read by many dashboards
	)
	return resource.Merge(base, ours)
}

// diagnostics turns the SDK's errors into warnings on diag, at most once
// a minute for the same text, so a collector outage is visible without
// flooding the log.
type diagnostics struct {
	log      *zap.Logger
	endpoint string
	mu       sync.Mutex
	last     map[string]time.Time
}

const diagnosticsQuiet = time.Minute

func installDiagnostics(log *zap.Logger, endpoint string) {
	d := &diagnostics{log: log, endpoint: endpoint, last: map[string]time.Time{}}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { d.warn("OpenTelemetry export problem", err) }))
	otel.SetLogger(newLogr(d))
}

func (d *diagnostics) warn(msg string, err error, fields ...zap.Field) {
	text := msg
	if err != nil {
		text += ": " + err.Error()
	}
	now := time.Now()
	d.mu.Lock()
	if at, seen := d.last[text]; seen && now.Sub(at) < diagnosticsQuiet {
		d.mu.Unlock()
		return
	}
	d.last[text] = now
	d.mu.Unlock()
	fields = append(fields, zap.String(FieldOperation, "telemetry"))
	if err != nil {
		fields = append(fields, ErrorMessage(err))
	}
	d.log.Warn(msg, fields...)
}
