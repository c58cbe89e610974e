package main

// Telemetry at a real collector on paths the end-to-end test (otel_test.go)
// does not drive: a cancel of a waiting execution, a retry. Both were
// found by a defect hunt. Run with FLOWKER_OTELCOL_BIN set.

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// telStart starts a collector and flowker exporting to it.
func telStart(t *testing.T, env ...string) (*collector, *proc) {
	t.Helper()
	col := startCollector(t, collectorBin(t))
	full := append([]string{"ENABLE_TELEMETRY=true", "OTEL_EXPORTER_OTLP_ENDPOINT=127.0.0.1:" + col.grpcPort,
		"OTEL_METRIC_EXPORT_INTERVAL=500", "LOG_LEVEL=debug", "SSRF_ALLOW_PRIVATE=true"}, env...)
	p := start(t, full...)
	p.waitReady()
	return col, p
}

// telStop stops flowker (flushing) and returns what the collector got
// once cond holds.
func telStop(t *testing.T, col *collector, p *proc, cond func(s *signals) bool) signals {
	t.Helper()
	time.Sleep(700 * time.Millisecond)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.wait(deadline), "clean exit")
	var sig signals
	col.poll(t, "the stopped line and the final metric export", func() bool {
		sig = col.read(t)
		return sig.logByBody("stopped") != nil && sig.metricBatches >= 2 && (cond == nil || cond(&sig))
	})
	return sig
}

// telTraced sends a request under a fresh trace and returns that trace id.
func telTraced(t *testing.T, p *proc, method, path string, body any, headers ...string) (string, int, http.Header, map[string]any) {
	t.Helper()
	traceID, span := randomHex(t, 16), randomHex(t, 8)
	headers = append(headers, "traceparent", "00-"+traceID+"-"+span+"-01")
	code, h, m, err := p.sendJSON(method, path, body, headers...)
	require.NoError(t, err)
	return traceID, code, h, m
}

// A waiting execution cancelled by the API reaches a final status
// (cancelled) without a worker: flowker.executions.finished{status=cancelled}
// must count it, as docs/telemetry.md says, and its end must be logged.
func TestCancelledWaitingExecutionIsCounted(t *testing.T) {
	t.Parallel()
	col, p := telStart(t)
	code, _, wf := p.send("POST", "/v1/workflows", map[string]any{"name": "hunt-wait",
		"nodes": []map[string]any{{"id": "t", "type": "trigger"}, {"id": "w", "type": "wait_for_callback"}},
		"edges": []map[string]any{{"id": "t-w", "source": "t", "target": "w"}}})
	require.Equal(t, http.StatusCreated, code, "%v", wf)
	wfID := wf["workflowId"].(string)
	code, _, body := p.send("POST", "/v1/workflows/"+wfID+"/activate", nil)
	require.Equal(t, http.StatusOK, code, "%v", body)

	const n = 3
	ids := make([]string, n)
	for i := range ids {
		ids[i] = p.startExecution(wfID)
	}
	for _, id := range ids {
		p.poll("execution waiting", func() bool {
			_, b := p.mustGet("/v1/executions/" + id)
			return b["status"] == "waiting"
		})
	}
	for _, id := range ids {
		code, _, body := p.send("POST", "/v1/executions/"+id+"/cancel", nil)
		require.Equal(t, http.StatusOK, code, "%v", body)
		_, b := p.mustGet("/v1/executions/" + id)
		require.Equal(t, "cancelled", b["status"])
	}
	sig := telStop(t, col, p, nil)

	started, cancelled := 0.0, 0.0
	for _, dp := range sig.metrics["flowker.executions.started"].points() {
		if attrsOf(dp.Attributes)["workflow.id"] == wfID {
			started = max(started, dp.value())
		}
	}
	for _, dp := range sig.metrics["flowker.executions.finished"].points() {
		a := attrsOf(dp.Attributes)
		if a["workflow.id"] == wfID && a["status"] == "cancelled" {
			cancelled = max(cancelled, dp.value())
		}
	}
	require.Equal(t, float64(n), started, "every execution started is counted")
	require.Equal(t, float64(n), cancelled,
		"flowker.executions.finished{status=cancelled} must count the %d cancelled executions (started %v)", n, started)
}

// telRawSpan is a span of traces.jsonl with its links.
type telRawSpan struct {
	TraceID      string `json:"traceId"`
	SpanID       string `json:"spanId"`
	ParentSpanID string `json:"parentSpanId"`
	Name         string `json:"name"`
	Links        []struct {
		TraceID string `json:"traceId"`
		SpanID  string `json:"spanId"`
	} `json:"links"`
}

func telReadRawSpans(t *testing.T, col *collector) []telRawSpan {
	t.Helper()
	var out []telRawSpan
	readJSONLines(t, filepath.Join(col.out, "traces.jsonl"), func(line []byte) {
		var doc struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []telRawSpan `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		require.NoError(t, json.Unmarshal(line, &doc))
		for _, rs := range doc.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
	})
	return out
}

// A retried execution runs again on a worker, after the retry request's
// response: its run stays in the trace of the request that started the
// execution, and is linked to the retry's request, whose trace otherwise
// stopped at command.execution.retry.
func TestRetriedRunIsLinkedToTheRetryRequest(t *testing.T) {
	t.Parallel()
	col, p := telStart(t)
	fake := providertest.New(t)
	fake.Enqueue("/check", providertest.Response{Status: 400, Body: `{"error":"bad"}`})
	fake.Respond("/check", providertest.Response{Body: `{"ok":true}`})
	wfID := p.callWorkflow(fake.URL, "check")
	startTrace, code, _, body := telTraced(t, p, "POST", "/v1/workflows/"+wfID+"/executions?wait=10s",
		map[string]any{"inputData": map[string]any{}}, "Idempotency-Key", uuid.NewString())
	require.Equal(t, http.StatusOK, code, "%v", body)
	require.Equal(t, "failed", body["status"])
	execID := body["executionId"].(string)
	retryTrace, code, _, body := telTraced(t, p, "POST", "/v1/executions/"+execID+"/retry", nil)
	require.Contains(t, []int{200, 202}, code, "%v", body)
	p.poll("the retried run to complete", func() bool {
		_, b := p.mustGet("/v1/executions/" + execID)
		return b["status"] == "completed"
	})
	_ = telStop(t, col, p, nil)
	calls := fake.RequestsTo("/check")
	require.Len(t, calls, 2)
	t.Logf("provider calls' traceparents: %q, %q (start trace %s, retry trace %s)",
		calls[0].Header.Get("traceparent"), calls[1].Header.Get("traceparent"), startTrace, retryTrace)

	spans := telReadRawSpans(t, col)
	var retrySvc *telRawSpan
	executes := 0
	connected := false
	for i := range spans {
		s := &spans[i]
		if s.TraceID == retryTrace && s.Name == "command.execution.retry" {
			retrySvc = s
		}
	}
	require.NotNil(t, retrySvc, "the retry request's service span")
	for _, s := range spans {
		if s.Name != "command.execution.execute" {
			continue
		}
		executes++
		if s.TraceID == retryTrace {
			connected = true
		}
		for _, l := range s.Links {
			if l.TraceID == retryTrace {
				connected = true
			}
		}
	}
	require.Equal(t, 2, executes, "two runs, two execute spans")
	require.True(t, connected,
		"the retried run's command.execution.execute is neither in the retry request's trace nor linked to it; "+
			"the provider saw traceparent %q for the retried call", calls[1].Header.Get("traceparent"))
}

// The caller's tracestate and baggage are continued into an execution's
// run and its provider calls, like its traceparent: only the traceparent
// was kept with the execution, so they were lost (found by a defect hunt;
// docs/telemetry.md promised them).
func TestExecutionCarriesTraceStateAndBaggage(t *testing.T) {
	t.Parallel()
	col, p := telStart(t)
	fake := providertest.New(t)
	fake.Respond("/check", providertest.Response{Body: `{"ok":true}`})
	wfID := p.callWorkflow(fake.URL, "check")
	traceID, code, _, body := telTraced(t, p, "POST", "/v1/workflows/"+wfID+"/executions?wait=10s",
		map[string]any{"inputData": map[string]any{}}, "Idempotency-Key", uuid.NewString(),
		"tracestate", "vendor=abc123", "baggage", "tenant=acme")
	require.Equal(t, http.StatusOK, code, "%v", body)
	require.Equal(t, "completed", body["status"])
	_ = telStop(t, col, p, nil)
	calls := fake.RequestsTo("/check")
	require.Len(t, calls, 1)
	require.Contains(t, calls[0].Header.Get("traceparent"), traceID, "traceparent continued")
	require.Equal(t, "vendor=abc123", calls[0].Header.Get("tracestate"), "the caller's tracestate reaches the provider")
	require.Contains(t, calls[0].Header.Get("baggage"), "tenant=acme", "the caller's baggage reaches the provider")
}
