package main

// End-to-end telemetry: flowker exports to a real OpenTelemetry Collector
// (OTLP in, JSON lines out), and the test reads what arrived. Run it with
//
//	bash scripts/ci-otel-e2e.sh
//
// which builds the collector (../shared/tools/otelcol/build.sh) and sets
// FLOWKER_OTELCOL_BIN. Without that variable the test is skipped, unless
// FLOWKER_REQUIRE_OTELCOL=1 (CI), which makes the skip a failure.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	otelcontrib "go.opentelemetry.io/contrib"

	"flowker/internal/provider/providertest"
	"flowker/internal/secret"
	"flowker/internal/telemetry"
)

// Secrets the test sends in configurations: none may reach any signal.
const (
	e2eProviderKey = "tracer-key-e2e-5ecret"
	e2eExecutorKey = "executor-token-e2e-5ecret"
)

// e2eRequest is one API call the test made, under its own trace.
type e2eRequest struct {
	method, path string
	route        string // Fiber route template: the server span's name is method + " " + route
	op           string // the service span it must produce ("" = none)
	status       int
	traceID      string // the test's trace: sent as traceparent
	parentSpanID string // the test's client span id in that traceparent
	traceparent  string // the traceparent flowker answered with
	requestLen   int    // body bytes sent
	responseLen  int    // body bytes received
}

// e2eClient drives flowker's API, each request in a fresh trace.
type e2eClient struct {
	t       *testing.T
	p       *proc
	reqs    []e2eRequest
	headers map[string]string // extra headers for the next calls
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// call sends method path with body and expects status; it returns the
// decoded JSON body (nil when empty).
func (c *e2eClient) call(method, path, route, op string, body any, status int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	sent := 0
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd, sent = bytes.NewReader(raw), len(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.p.addr+path, rd)
	require.NoError(c.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	r := e2eRequest{method: method, path: path, route: route, op: op, status: status,
		traceID: randomHex(c.t, 16), parentSpanID: randomHex(c.t, 8)}
	req.Header.Set("traceparent", "00-"+r.traceID+"-"+r.parentSpanID+"-01")
	resp, err := c.p.client.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	require.Equal(c.t, status, resp.StatusCode, "%s %s: %s", method, path, raw)
	r.traceparent, r.requestLen, r.responseLen = resp.Header.Get("traceparent"), sent, len(raw)
	c.reqs = append(c.reqs, r)
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var out map[string]any
	require.NoError(c.t, json.Unmarshal(raw, &out), "%s %s: %s", method, path, raw)
	return out
}

// collectorBin is the collector to export to: FLOWKER_OTELCOL_BIN, else
// the test is skipped (a failure under FLOWKER_REQUIRE_OTELCOL=1).
func collectorBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("FLOWKER_OTELCOL_BIN")
	if bin == "" {
		if os.Getenv("FLOWKER_REQUIRE_OTELCOL") == "1" {
			t.Fatal("FLOWKER_REQUIRE_OTELCOL=1 but FLOWKER_OTELCOL_BIN is not set: run scripts/ci-otel-e2e.sh")
		}
		t.Skip("FLOWKER_OTELCOL_BIN is not set: run scripts/ci-otel-e2e.sh to build the collector and run this test")
	}
	return bin
}

func TestTelemetryEndToEnd(t *testing.T) {
	t.Parallel()
	col := startCollector(t, collectorBin(t))

	p := start(t, "ENABLE_TELEMETRY=true", "OTEL_EXPORTER_OTLP_ENDPOINT=127.0.0.1:"+col.grpcPort,
		"OTEL_METRIC_EXPORT_INTERVAL=500", "LOG_LEVEL=debug", "SSRF_ALLOW_PRIVATE=true")
	p.waitReady()

	c := &e2eClient{t: t, p: p}
	wfBody := map[string]any{
		"name": "e2e-payments",
		"nodes": []map[string]any{
			{"id": "hook", "type": "trigger", "data": map[string]any{"triggerType": "webhook", "path": "/e2e", "method": "POST"}},
			{"id": "approve", "type": "action", "data": map[string]any{"actionType": "set_output", "output": map[string]any{"ok": true}}},
		},
		"edges": []map[string]any{{"id": "e1", "source": "hook", "target": "approve"}},
	}
	created := c.call("POST", "/v1/workflows", "/v1/workflows", "command.workflow.create", wfBody, http.StatusCreated)
	wf, _ := created["workflowId"].(string)
	require.NotEmpty(t, wf)
	wfPath := "/v1/workflows/" + wf
	c.call("GET", wfPath, "/v1/workflows/:id", "query.workflow.get", nil, http.StatusOK)
	c.call("GET", "/v1/workflows", "/v1/workflows", "query.workflow.list", nil, http.StatusOK)
	wfBody["description"] = "updated"
	c.call("PUT", wfPath, "/v1/workflows/:id", "command.workflow.update", wfBody, http.StatusOK)
	c.call("POST", wfPath+"/activate", "/v1/workflows/:id/activate", "command.workflow.activate", nil, http.StatusOK)
	c.call("POST", wfPath+"/deactivate", "/v1/workflows/:id/deactivate", "command.workflow.deactivate", nil, http.StatusOK)
	c.call("POST", wfPath+"/clone", "/v1/workflows/:id/clone", "command.workflow.clone",
		map[string]any{"name": "e2e-payments-copy"}, http.StatusCreated)
	c.call("DELETE", wfPath, "/v1/workflows/:id", "command.workflow.delete", nil, http.StatusNoContent)
	c.call("GET", wfPath, "/v1/workflows/:id", "query.workflow.get", nil, http.StatusNotFound)

	pc := c.call("POST", "/v1/provider-configurations", "/v1/provider-configurations", "command.provider_config.create",
		map[string]any{"name": "e2e-tracer", "providerId": "tracer",
			"config": map[string]any{"base_url": "https://tracer.example.com", "api_key": e2eProviderKey}}, http.StatusCreated)
	pcID, _ := pc["id"].(string)
	require.NotEmpty(t, pcID)
	c.call("GET", "/v1/provider-configurations/"+pcID, "/v1/provider-configurations/:id", "query.provider_config.get", nil, http.StatusOK)
	c.call("GET", "/v1/provider-configurations", "/v1/provider-configurations", "query.provider_config.list", nil, http.StatusOK)

	ex := c.call("POST", "/v1/executors", "/v1/executors", "command.executor_config.create", map[string]any{
		"name": "e2e-fraud", "baseUrl": "https://fraud.example.com",
		"endpoints":      []map[string]any{{"name": "check", "path": "/v1/check", "method": "POST"}},
		"authentication": map[string]any{"type": "bearer", "config": map[string]any{"token": e2eExecutorKey}},
	}, http.StatusCreated)
	exID, _ := ex["id"].(string)
	require.NotEmpty(t, exID)
	c.call("GET", "/v1/executors/"+exID, "/v1/executors/:id", "query.executor_config.get", nil, http.StatusOK)

	// One execution through the engine, calling a fake provider.
	fake := providertest.New(t)
	fake.Respond("/check", providertest.Response{Body: `{"ok":true}`})
	hp := c.call("POST", "/v1/provider-configurations", "/v1/provider-configurations", "command.provider_config.create",
		map[string]any{"name": "e2e-http", "providerId": "http", "config": map[string]any{"base_url": fake.URL}},
		http.StatusCreated)
	runBody := map[string]any{"name": "e2e-run",
		"nodes": []map[string]any{{"id": "hook", "type": "trigger"}, {"id": "check", "type": "executor",
			"data": map[string]any{"executorId": "http.request", "providerConfigId": hp["id"], "method": "POST", "path": "/check"}}},
		"edges": []map[string]any{{"id": "e1", "source": "hook", "target": "check"}}}
	runWF := c.call("POST", "/v1/workflows", "/v1/workflows", "command.workflow.create", runBody, http.StatusCreated)
	runPath := "/v1/workflows/" + runWF["workflowId"].(string)
	c.call("POST", runPath+"/activate", "/v1/workflows/:id/activate", "command.workflow.activate", nil, http.StatusOK)
	c.headers = map[string]string{"Idempotency-Key": "e2e-1"}
	res := c.call("POST", runPath+"/executions?wait=10s", "/v1/workflows/:id/executions", "command.execution.create",
		map[string]any{"inputData": map[string]any{"amount": "10.00"}}, http.StatusOK)
	c.headers = nil
	require.Equal(t, "completed", res["status"])
	execReq := c.reqs[len(c.reqs)-1]
	execID := res["executionId"].(string)
	c.call("GET", "/v1/executions/"+execID, "/v1/executions/:id", "query.execution.get", nil, http.StatusOK)
	c.call("GET", "/v1/executions/"+execID+"/results", "/v1/executions/:id/results", "query.execution.get_results", nil, http.StatusOK)
	c.call("GET", "/v1/executions", "/v1/executions", "query.execution.list", nil, http.StatusOK)

	// Let at least one periodic metric export happen, then stop: SIGTERM
	// flushes whatever is still buffered.
	time.Sleep(700 * time.Millisecond)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.wait(deadline), "clean exit")
	for _, l := range p.logLines() {
		require.NotContains(t, l, `"operation":"telemetry"`, "no export problem reported")
		require.NotContains(t, l, `"message":"flushing telemetry"`, "the final flush succeeded")
	}

	// The collector writes every 100 ms: wait until the last request's
	// spans and log are there.
	last := c.reqs[len(c.reqs)-1]
	var sig signals
	col.poll(t, "the last request's spans and access log", func() bool {
		sig = col.read(t)
		return sig.span(last.traceID, last.op) != nil && sig.log(last.traceID, "request") != nil &&
			sig.logByBody("stopped") != nil && sig.metricBatches >= 2
	})

	t.Run("every exercised seed span name arrived", func(t *testing.T) {
		var want []string
		for _, r := range c.reqs {
			if r.op != "" && !slices.Contains(want, r.op) {
				want = append(want, r.op)
			}
		}
		require.Subset(t, sig.spanNames(), want)
		require.Len(t, want, 17)
		require.Contains(t, sig.spanNames(), "command.execution.recover", "every start runs the recovery pass")
	})

	t.Run("each request is one trace: caller -> server span -> service span", func(t *testing.T) {
		for _, r := range c.reqs {
			what := r.method + " " + r.path
			server := sig.serverSpan(r.traceID)
			require.NotNil(t, server, "%s: no server span in trace %s", what, r.traceID)
			require.Equal(t, r.method+" "+r.route, server.Name, what)
			require.Equal(t, r.parentSpanID, server.ParentSpanID, "%s: the caller's traceparent is continued", what)
			a := server.attrs()
			require.Equal(t, strconv.Itoa(r.status), a["http.status_code"], what)
			require.Equal(t, r.route, a["http.route"], what)
			if r.op == "" {
				continue
			}
			svc := sig.span(r.traceID, r.op)
			require.NotNil(t, svc, "%s: no %s span in trace %s", what, r.op, r.traceID)
			require.Equal(t, server.SpanID, svc.ParentSpanID, "%s: %s is a child of the server span", what, r.op)
		}
	})

	t.Run("one execution is one trace: request -> execute -> node -> provider call", func(t *testing.T) {
		create := sig.span(execReq.traceID, "command.execution.create")
		require.NotNil(t, create)
		exec := sig.span(execReq.traceID, "command.execution.execute")
		require.NotNil(t, exec, "the worker's span continues the request's trace, though it runs after the response")
		require.Equal(t, create.SpanID, exec.ParentSpanID)
		node := sig.span(execReq.traceID, "command.execution.execute_executor_node")
		require.NotNil(t, node)
		require.Equal(t, exec.SpanID, node.ParentSpanID)
		require.Equal(t, "check", node.attrs()["node.id"])
		withPC := sig.span(execReq.traceID, "command.execution.execute_with_provider_config")
		require.NotNil(t, withPC)
		require.Equal(t, node.SpanID, withPC.ParentSpanID)
		calls := fake.RequestsTo("/check")
		require.Len(t, calls, 1)
		require.Contains(t, calls[0].Header.Get("traceparent"), execReq.traceID, "the provider call carries the trace")

		started := sig.log(execReq.traceID, "Starting workflow execution")
		require.NotNil(t, started, "the seed's Loki panel counts this line")
		a := started.attrs()
		require.Equal(t, execID, a["execution.id"])
		require.Equal(t, "command.execution.execute", a[telemetry.FieldOperation])
		require.NotEmpty(t, a["workflow.id"])
		for _, name := range []string{"flowker.executions.started", "flowker.executions.finished",
			"flowker.execution.duration", "flowker.step.duration", "flowker.provider.call.duration"} {
			_, ok := sig.metrics[name]
			require.True(t, ok, "engine metric %s missing; got %v", name, sig.metricNames())
		}
	})

	t.Run("probes make no spans", func(t *testing.T) {
		for _, s := range sig.spans {
			require.NotContains(t, s.Name, "/health/ready", "waitReady polled /health/ready")
		}
	})

	t.Run("HTTP and system metrics arrived with their attributes", func(t *testing.T) {
		for name, unit := range map[string]string{
			"http.server.duration": "ms", "http.server.request.size": "By", "http.server.response.size": "By",
			"http.server.active_requests": "1", "system.cpu.usage": "%", "system.mem.usage": "%",
		} {
			m, ok := sig.metrics[name]
			require.True(t, ok, "metric %s missing; got %v", name, sig.metricNames())
			require.Equal(t, unit, m.Unit, name)
			require.NotEmpty(t, m.points(), name)
		}
		seen := map[string]bool{}
		for _, dp := range sig.metrics["http.server.duration"].points() {
			a := attrsOf(dp.Attributes)
			seen[a["http.method"]+" "+a["http.route"]+" "+a["http.status_code"]] = true
			require.NotContains(t, a, "net.host.name")
			require.Equal(t, telemetry.LatencyBucketsMS, dp.ExplicitBounds, "the documented buckets")
		}
		for _, want := range []string{"GET /v1/workflows/:id 200", "GET /v1/workflows/:id 404", "POST /v1/workflows 201",
			"DELETE /v1/workflows/:id 204", "POST /v1/executors 201", "GET /health/ready 200"} {
			require.True(t, seen[want], "http.server.duration{%s} missing; got %v", want, seen)
		}
		for _, name := range []string{"http.server.request.size", "http.server.response.size"} {
			for _, dp := range sig.metrics[name].points() {
				a := attrsOf(dp.Attributes)
				require.NotEmpty(t, a["http.method"], name)
				require.NotEmpty(t, a["http.route"], name)
				require.NotEmpty(t, a["http.status_code"], name)
			}
		}
		for _, dp := range sig.metrics["http.server.active_requests"].points() {
			require.NotEmpty(t, attrsOf(dp.Attributes)["http.method"])
		}
		for _, name := range []string{"system.cpu.usage", "system.mem.usage"} {
			for _, dp := range sig.metrics[name].points() {
				v := dp.value()
				require.GreaterOrEqual(t, v, 0.0, name)
				require.LessOrEqual(t, v, 100.0, name)
			}
		}
	})

	t.Run("HTTP server spans are otelfiber's: scope, kind, attributes, status, events, traceparent", func(t *testing.T) {
		requireHTTPServerSpans(t, &sig, c.reqs, p.addr)
	})

	t.Run("HTTP server metrics are otelfiber's: names, units, descriptions, kinds, buckets, attributes", func(t *testing.T) {
		requireHTTPServerMetrics(t, &sig, c.reqs)
	})

	t.Run("log records carry trace ids and the seed fields", func(t *testing.T) {
		for _, r := range c.reqs {
			rec := sig.log(r.traceID, "request")
			require.NotNil(t, rec, "%s %s: no access log in trace %s", r.method, r.path, r.traceID)
			server := sig.serverSpan(r.traceID)
			require.NotNil(t, server)
			require.Equal(t, server.SpanID, rec.SpanID, "the log record is the server span's")
			a := rec.attrs()
			require.Equal(t, r.method+" "+r.route, a[telemetry.FieldOperation])
			require.Equal(t, strconv.Itoa(r.status), a["http.status_code"])
			require.NotContains(t, a, telemetry.FieldTraceID, "carried natively, not duplicated")
		}
		started := sig.logByBody("flowker started")
		require.NotNil(t, started, "startup logs are exported too")
		require.Equal(t, "startup", started.attrs()[telemetry.FieldOperation])
		require.NotNil(t, sig.logByBody("stopped"), "the last log line before the flush is exported")
	})

	t.Run("resource and secrets", func(t *testing.T) {
		for _, res := range sig.resources {
			require.Equal(t, "flowker", res["service.name"])
			require.NotEmpty(t, res["service.version"])
			require.Equal(t, "local", res["deployment.environment.name"])
		}
		for _, f := range []string{"traces.jsonl", "metrics.jsonl", "logs.jsonl"} {
			raw, err := os.ReadFile(filepath.Join(col.out, f))
			require.NoError(t, err)
			require.NotContains(t, string(raw), e2eProviderKey, f)
			require.NotContains(t, string(raw), e2eExecutorKey, f)
		}
	})
}

// The HTTP server instrumentation (internal/telemetry/httpserver.go)
// replaced otelfiber v2.1.1 on the condition that what it emits is what
// otelfiber, as Flowker configured it, emitted. internal/telemetry's
// TestServerTelemetryEmitsWhatOtelfiberEmitted compares the two in process;
// these are that contract as the collector receives it, written from
// otelfiber's source, so that a change to either side shows here.

// httpServerScope is otelfiber's instrumentation scope, kept.
const httpServerScope = "github.com/gofiber/contrib/otelfiber"

// httpServerSpanAttributes are the server span's attributes for the
// requests this test makes (no Basic credentials: no enduser.id).
var httpServerSpanAttributes = []string{"http.client_ip", "http.flavor", "http.method", "http.request_content_length",
	"http.response_content_length", "http.route", "http.scheme", "http.status_code", "http.target", "http.url",
	"http.user_agent", "net.host.name", "net.transport"}

// httpServerMetric is one of otelfiber's instruments, as exported through
// Setup's view (shared buckets; no net.host.name).
type httpServerMetric struct {
	unit, description string
	histogram         bool      // else a non-monotonic sum (an up-down counter)
	bounds            []float64 // histograms' bucket boundaries
	attributes        []string
}

var (
	httpRequestAttributes  = []string{"http.flavor", "http.method", "http.scheme"}
	httpResponseAttributes = []string{"http.flavor", "http.method", "http.route", "http.scheme", "http.status_code"}
	httpServerMetrics      = map[string]httpServerMetric{
		"http.server.duration": {unit: "ms", description: "measures the duration inbound HTTP requests",
			histogram: true, bounds: telemetry.LatencyBucketsMS, attributes: httpResponseAttributes},
		"http.server.request.size": {unit: "By", description: "measures the size of HTTP request messages",
			histogram: true, bounds: telemetry.SizeBucketsBytes, attributes: httpResponseAttributes},
		"http.server.response.size": {unit: "By", description: "measures the size of HTTP response messages",
			histogram: true, bounds: telemetry.SizeBucketsBytes, attributes: httpResponseAttributes},
		"http.server.active_requests": {unit: "1",
			description: "measures the number of concurrent HTTP requests that are currently in-flight",
			attributes:  httpRequestAttributes},
	}
)

// OTLP enum values as the collector writes them.
const (
	otlpSpanKindServer       = 2
	otlpStatusUnset          = 0
	otlpStatusError          = 2
	otlpTemporalityCumulated = 2
)

// typesOf gives each attribute's OTLP value type (stringValue, intValue, …).
func typesOf(list []otlpAttr) map[string]string {
	out := make(map[string]string, len(list))
	for _, a := range list {
		for typ := range a.Value {
			out[a.Key] = typ
		}
	}
	return out
}

func keysOf(list []otlpAttr) []string {
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, a.Key)
	}
	slices.Sort(out)
	return out
}

func requireHTTPServerSpans(t *testing.T, sig *signals, reqs []e2eRequest, addr string) {
	t.Helper()
	for _, r := range reqs {
		what := r.method + " " + r.path
		s := sig.serverSpan(r.traceID)
		require.NotNil(t, s, what)
		require.Equal(t, otlpSpanKindServer, s.Kind, what)
		require.Equal(t, httpServerScope, s.scope.Name, what)
		require.Equal(t, otelcontrib.Version(), s.scope.Version, what)
		require.Equal(t, httpServerSpanAttributes, keysOf(s.Attributes), "%s: exactly otelfiber's span attributes", what)
		requestLength, responseLength := r.requestLen, r.responseLen
		if r.method == http.MethodGet {
			requestLength = -2 // Go's client sends no Content-Length; otelfiber reported fasthttp's "none"
		}
		if r.status == http.StatusNoContent {
			// otelfiber measured the body the handler set (Fiber's status
			// text), which a 204 does not send.
			responseLength = len(http.StatusText(http.StatusNoContent))
		}
		want := map[string]string{
			"http.client_ip": "127.0.0.1", "http.flavor": "1.1", "http.method": r.method,
			"http.request_content_length": strconv.Itoa(requestLength), "http.response_content_length": strconv.Itoa(responseLength),
			"http.route": r.route, "http.scheme": "http", "http.status_code": strconv.Itoa(r.status),
			// Query values are redacted at export (docs/telemetry.md, "Secrets in spans").
			"http.target": secret.RedactText(r.path), "http.url": secret.RedactText(r.path), "http.user_agent": "Go-http-client/1.1",
			"net.host.name": addr, "net.transport": "ip_tcp",
		}
		require.Equal(t, want, s.attrs(), what)
		types := typesOf(s.Attributes)
		for key, typ := range types {
			wantType := "stringValue"
			if strings.HasSuffix(key, "_length") || key == "http.status_code" {
				wantType = "intValue"
			}
			require.Equal(t, wantType, typ, "%s: %s", what, key)
		}
		if r.status >= 500 {
			require.Equal(t, otlpStatusError, s.Status.Code, what)
		} else {
			require.Equal(t, otlpStatusUnset, s.Status.Code, "%s: a client error is not the server's", what)
		}
		require.Empty(t, s.Status.Message, what)
		for _, ev := range s.Events { // a handler's error, recorded before the error handler answers
			require.Equal(t, "exception", ev.Name, what)
			require.Equal(t, []string{"exception.message", "exception.type"}, keysOf(ev.Attributes), what)
			require.GreaterOrEqual(t, r.status, 400, "%s: only failed requests record an error", what)
		}
		require.Equal(t, "00-"+r.traceID+"-"+s.SpanID+"-01", r.traceparent, "%s: the response names the server span", what)
	}
	notFound := reqs[slices.IndexFunc(reqs, func(r e2eRequest) bool { return r.status == http.StatusNotFound })]
	require.Len(t, sig.serverSpan(notFound.traceID).Events, 1, "the 404's error is an exception event")
}

func requireHTTPServerMetrics(t *testing.T, sig *signals, reqs []e2eRequest) {
	t.Helper()
	for name, want := range httpServerMetrics {
		m, ok := sig.metrics[name]
		require.True(t, ok, "metric %s missing; got %v", name, sig.metricNames())
		require.Equal(t, httpServerScope, m.scope.Name, name)
		require.Equal(t, otelcontrib.Version(), m.scope.Version, name)
		require.Equal(t, want.unit, m.Unit, name)
		require.Equal(t, want.description, m.Description, name)
		data := m.Sum
		if want.histogram {
			require.Nil(t, m.Sum, name)
			data = m.Histogram
		} else {
			require.Nil(t, m.Histogram, name)
			require.NotNil(t, data, name)
			require.False(t, data.IsMonotonic, "%s: an up-down counter", name)
		}
		require.NotNil(t, data, name)
		require.Equal(t, otlpTemporalityCumulated, data.AggregationTemporality, name)
		require.NotEmpty(t, data.DataPoints, name)
		seen := map[string]bool{}
		for _, dp := range data.DataPoints {
			require.Equal(t, want.attributes, keysOf(dp.Attributes), "%s: exactly these attributes", name)
			for key, typ := range typesOf(dp.Attributes) {
				wantType := "stringValue"
				if key == "http.status_code" {
					wantType = "intValue"
				}
				require.Equal(t, wantType, typ, "%s: %s", name, key)
			}
			if want.histogram {
				require.Equal(t, want.bounds, dp.ExplicitBounds, "%s: the documented buckets", name)
			}
			a := attrsOf(dp.Attributes)
			require.Equal(t, "1.1", a["http.flavor"], name)
			require.Equal(t, "http", a["http.scheme"], name)
			seen[a["http.method"]+" "+a["http.route"]+" "+a["http.status_code"]] = true
		}
		if !want.histogram {
			continue
		}
		for _, r := range reqs {
			key := r.method + " " + r.route + " " + strconv.Itoa(r.status)
			require.True(t, seen[key], "%s{%s} missing; got %v", name, key, seen)
		}
	}
}

// The endpoint's form is checked at start like every variable (no collector needed).
func TestTelemetryBadEndpointExitsWithOneLine(t *testing.T) {
	t.Parallel()
	for _, endpoint := range []string{"collector", "ftp://collector:4317", "https://user:s3cret@collector:4317"} {
		p := start(t, "ENABLE_TELEMETRY=true", "OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint)
		require.Equal(t, 1, p.wait(deadline), endpoint)
		stderr := p.stderr.String()
		require.Len(t, p.logLines(), 1, "one line: %q", stderr)
		require.Contains(t, stderr, "OTEL_EXPORTER_OTLP_ENDPOINT")
		require.NotContains(t, stderr, "s3cret")
		requireNoPanic(t, stderr)
		require.NoDirExists(t, filepath.Join(p.dir, "data"), "refused before anything is created")
	}
}

// collector is a running otelcol-file.
type collector struct {
	out      string // OTELCOL_OUT
	grpcPort string
	stderr   *syncBuffer
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return port
}

// collectorConfig is ../shared/tools/otelcol/config.yaml from the repository
// root (FLOWKER_OTELCOL_CONFIG overrides).
func collectorConfig(t *testing.T) string {
	t.Helper()
	if c := os.Getenv("FLOWKER_OTELCOL_CONFIG"); c != "" {
		return c
	}
	wd, err := os.Getwd() // cmd/flowker
	require.NoError(t, err)
	c, err := filepath.Abs(filepath.Join(wd, "..", "..", "..", "shared", "tools", "otelcol", "config.yaml"))
	require.NoError(t, err)
	require.FileExists(t, c, "set FLOWKER_OTELCOL_CONFIG to the collector configuration")
	return c
}

func startCollector(t *testing.T, bin string) *collector {
	t.Helper()
	c := &collector{out: t.TempDir(), grpcPort: portOf(t, freeAddr(t)), stderr: &syncBuffer{}}
	cmd := exec.CommandContext(t.Context(), bin, "--config", collectorConfig(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "OTELCOL_OUT=" + c.out,
		"OTELCOL_GRPC_PORT=" + c.grpcPort, "OTELCOL_HTTP_PORT=" + portOf(t, freeAddr(t))}
	cmd.Stdout, cmd.Stderr = c.stderr, c.stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(deadline):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("collector output:\n%s", c.stderr.String())
		}
	})
	var d net.Dialer
	c.poll(t, "the collector's OTLP gRPC port", func() bool {
		select {
		case <-exited:
			t.Fatalf("the collector exited:\n%s", c.stderr.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+c.grpcPort)
		if err != nil {
			return false
		}
		_ = conn.Close()
		return true
	})
	return c
}

func (c *collector) poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	until := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(until) {
			t.Fatalf("timed out after %s waiting for %s; collector output:\n%s", deadline, what, c.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// OTLP JSON, as the collector's file exporter writes it (only the fields read here).

type otlpAttr struct {
	Key   string         `json:"key"`
	Value map[string]any `json:"value"`
}

// attrsOf flattens attributes to strings (intValue is a JSON string in OTLP/JSON).
func attrsOf(list []otlpAttr) map[string]string {
	out := make(map[string]string, len(list))
	for _, a := range list {
		for _, v := range a.Value {
			out[a.Key] = fmt.Sprint(v)
		}
	}
	return out
}

type otlpResource struct {
	Attributes []otlpAttr `json:"attributes"`
}

type otlpScope struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type otlpSpan struct {
	TraceID      string     `json:"traceId"`
	SpanID       string     `json:"spanId"`
	ParentSpanID string     `json:"parentSpanId"`
	Name         string     `json:"name"`
	Kind         int        `json:"kind"`
	Attributes   []otlpAttr `json:"attributes"`
	Events       []struct {
		Name       string     `json:"name"`
		Attributes []otlpAttr `json:"attributes"`
	} `json:"events"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	scope otlpScope // of the scopeSpans it came in
}

func (s *otlpSpan) attrs() map[string]string { return attrsOf(s.Attributes) }

type otlpLog struct {
	TraceID      string         `json:"traceId"`
	SpanID       string         `json:"spanId"`
	SeverityText string         `json:"severityText"`
	Body         map[string]any `json:"body"`
	Attributes   []otlpAttr     `json:"attributes"`
}

func (l *otlpLog) attrs() map[string]string { return attrsOf(l.Attributes) }

type otlpPoint struct {
	Attributes     []otlpAttr `json:"attributes"`
	ExplicitBounds []float64  `json:"explicitBounds"`
	AsDouble       *float64   `json:"asDouble"`
	AsInt          string     `json:"asInt"`
}

func (p otlpPoint) value() float64 {
	if p.AsDouble != nil {
		return *p.AsDouble
	}
	v, _ := strconv.ParseFloat(p.AsInt, 64)
	return v
}

type otlpData struct {
	DataPoints             []otlpPoint `json:"dataPoints"`
	AggregationTemporality int         `json:"aggregationTemporality"`
	IsMonotonic            bool        `json:"isMonotonic"`
}

type otlpMetric struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Unit        string    `json:"unit"`
	Histogram   *otlpData `json:"histogram"`
	Sum         *otlpData `json:"sum"`
	Gauge       *otlpData `json:"gauge"`
	scope       otlpScope // of the scopeMetrics it came in
}

func (m otlpMetric) points() []otlpPoint {
	var out []otlpPoint
	for _, d := range []*otlpData{m.Histogram, m.Sum, m.Gauge} {
		if d != nil {
			out = append(out, d.DataPoints...)
		}
	}
	return out
}

// signals is everything the collector wrote so far.
type signals struct {
	spans         []otlpSpan
	logs          []otlpLog
	metrics       map[string]otlpMetric // points of every export merged
	metricBatches int                   // exports that carried system.cpu.usage
	resources     []map[string]string
}

func readJSONLines(t *testing.T, path string, each func([]byte)) {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return
	}
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) > 0 && json.Valid(line) { // the last line may be half-written
			each(line)
		}
	}
	require.NoError(t, sc.Err())
}

func (c *collector) read(t *testing.T) signals {
	t.Helper()
	s := signals{metrics: map[string]otlpMetric{}}
	readJSONLines(t, filepath.Join(c.out, "traces.jsonl"), func(line []byte) {
		var doc struct {
			ResourceSpans []struct {
				Resource   otlpResource `json:"resource"`
				ScopeSpans []struct {
					Scope otlpScope  `json:"scope"`
					Spans []otlpSpan `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		require.NoError(t, json.Unmarshal(line, &doc))
		for _, rs := range doc.ResourceSpans {
			s.resources = append(s.resources, attrsOf(rs.Resource.Attributes))
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					sp.scope = ss.Scope
					s.spans = append(s.spans, sp)
				}
			}
		}
	})
	readJSONLines(t, filepath.Join(c.out, "logs.jsonl"), func(line []byte) {
		var doc struct {
			ResourceLogs []struct {
				Resource  otlpResource `json:"resource"`
				ScopeLogs []struct {
					LogRecords []otlpLog `json:"logRecords"`
				} `json:"scopeLogs"`
			} `json:"resourceLogs"`
		}
		require.NoError(t, json.Unmarshal(line, &doc))
		for _, rl := range doc.ResourceLogs {
			s.resources = append(s.resources, attrsOf(rl.Resource.Attributes))
			for _, sl := range rl.ScopeLogs {
				s.logs = append(s.logs, sl.LogRecords...)
			}
		}
	})
	readJSONLines(t, filepath.Join(c.out, "metrics.jsonl"), func(line []byte) {
		var doc struct {
			ResourceMetrics []struct {
				Resource     otlpResource `json:"resource"`
				ScopeMetrics []struct {
					Scope   otlpScope    `json:"scope"`
					Metrics []otlpMetric `json:"metrics"`
				} `json:"scopeMetrics"`
			} `json:"resourceMetrics"`
		}
		require.NoError(t, json.Unmarshal(line, &doc))
		for _, rm := range doc.ResourceMetrics {
			s.resources = append(s.resources, attrsOf(rm.Resource.Attributes))
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					m.scope = sm.Scope
					if m.Name == "system.cpu.usage" {
						s.metricBatches++
					}
					prev, ok := s.metrics[m.Name]
					if !ok {
						s.metrics[m.Name] = m
						continue
					}
					for _, pair := range []struct{ into, from **otlpData }{
						{&prev.Histogram, &m.Histogram}, {&prev.Sum, &m.Sum}, {&prev.Gauge, &m.Gauge},
					} {
						if *pair.from == nil {
							continue
						}
						if *pair.into == nil {
							*pair.into = &otlpData{}
						}
						(*pair.into).DataPoints = append((*pair.into).DataPoints, (*pair.from).DataPoints...)
					}
					s.metrics[m.Name] = prev
				}
			}
		}
	})
	return s
}

// span finds the span named name in trace traceID.
func (s *signals) span(traceID, name string) *otlpSpan {
	for i := range s.spans {
		if s.spans[i].TraceID == traceID && s.spans[i].Name == name {
			return &s.spans[i]
		}
	}
	return nil
}

// serverSpan finds trace traceID's SERVER span (kind 2).
func (s *signals) serverSpan(traceID string) *otlpSpan {
	for i := range s.spans {
		if s.spans[i].TraceID == traceID && s.spans[i].Kind == 2 {
			return &s.spans[i]
		}
	}
	return nil
}

func (s *signals) spanNames() []string {
	var out []string
	for _, sp := range s.spans {
		if !slices.Contains(out, sp.Name) {
			out = append(out, sp.Name)
		}
	}
	return out
}

func (s *signals) metricNames() []string {
	var out []string
	for n := range s.metrics {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// log finds a record of trace traceID whose body is body.
func (s *signals) log(traceID, body string) *otlpLog {
	for i := range s.logs {
		if s.logs[i].TraceID == traceID && fmt.Sprint(s.logs[i].Body["stringValue"]) == body {
			return &s.logs[i]
		}
	}
	return nil
}

func (s *signals) logByBody(body string) *otlpLog {
	for i := range s.logs {
		if fmt.Sprint(s.logs[i].Body["stringValue"]) == body {
			return &s.logs[i]
		}
	}
	return nil
}
