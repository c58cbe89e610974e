package main

// Two flowker processes on one PostgreSQL: webhook routes live in the
// database, so a route activated through one process is served by the other
// at once, and is gone from both when the workflow is deactivated; a cancel
// sent to one process stops an execution running in the other.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
	"flowker/internal/store/storetest"
)

const testSecretKey = "FLOWKER_SECRET_KEY=MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="

// request sends body (nil: none; otherwise JSON) with headers as name,
// value pairs and returns the answer. It asserts nothing, so goroutines
// may use it; every request helper of these tests goes through it.
func (p *proc) request(method, path string, body []byte, headers ...string) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+p.addr+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Timeout: deadline, Transport: p.client.Transport}).Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw, err
}

// send makes a request with a JSON body (nil: none) and decodes the JSON answer.
func (p *proc) send(method, path string, body any, headers ...string) (int, http.Header, map[string]any) {
	p.t.Helper()
	status, header, m, err := p.sendJSON(method, path, body, headers...)
	require.NoError(p.t, err)
	return status, header, m
}

// sendJSON is send asserting nothing, for goroutines and for a process
// that may be gone: an error of the request or of the answer's JSON is
// returned.
func (p *proc) sendJSON(method, path string, body any, headers ...string) (int, http.Header, map[string]any, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return 0, nil, nil, err
		}
	}
	status, header, raw, err := p.request(method, path, raw, headers...)
	if err != nil {
		return status, header, nil, err
	}
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return status, header, nil, fmt.Errorf("%s %s: %d %q: %w", method, path, status, raw, err)
		}
	}
	return status, header, m, nil
}

// callWorkflow creates an http provider configuration for baseURL and an
// active workflow trigger → ids[0] → ids[1] → …, each node a POST to
// /<id>; it returns the workflow id.
func (p *proc) callWorkflow(baseURL string, ids ...string) string {
	p.t.Helper()
	code, _, pc := p.send("POST", "/v1/provider-configurations", map[string]any{"name": "fake-" + uuid.NewString()[:8],
		"providerId": "http", "config": map[string]any{"base_url": baseURL}})
	require.Equal(p.t, http.StatusCreated, code, "%v", pc)
	nodes := []map[string]any{{"id": "t", "type": "trigger"}}
	var edges []map[string]any
	prev := "t"
	for _, id := range ids {
		nodes = append(nodes, map[string]any{"id": id, "type": "executor", "data": map[string]any{
			"executorId": "http.request", "providerConfigId": pc["id"], "method": "POST", "path": "/" + id}})
		edges = append(edges, map[string]any{"id": prev + "-" + id, "source": prev, "target": id})
		prev = id
	}
	code, _, wf := p.send("POST", "/v1/workflows", map[string]any{"name": "calls-" + uuid.NewString()[:8],
		"nodes": nodes, "edges": edges})
	require.Equal(p.t, http.StatusCreated, code, "%v", wf)
	wfID := wf["workflowId"].(string)
	code, _, body := p.send("POST", "/v1/workflows/"+wfID+"/activate", nil)
	require.Equal(p.t, http.StatusOK, code, "%v", body)
	return wfID
}

// startExecution starts one execution of wfID and returns its id.
func (p *proc) startExecution(wfID string) string {
	p.t.Helper()
	code, _, body := p.send("POST", "/v1/workflows/"+wfID+"/executions", map[string]any{"inputData": map[string]any{}},
		"Idempotency-Key", uuid.NewString())
	require.Equal(p.t, http.StatusCreated, code, "%v", body)
	return body["executionId"].(string)
}

func TestWebhookRoutesAcrossProcesses(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t) // skips without FLOWKER_TEST_DATABASE_URL
	a := start(t, "DATABASE_URL="+url, testSecretKey)
	a.waitReady() // migrations applied before the second process starts
	b := start(t, "DATABASE_URL="+url, testSecretKey)
	b.waitReady()

	// Activate a webhook workflow through A.
	hook := "/orders-" + uuid.NewString()[:8]
	code, _, wf := a.send("POST", "/v1/workflows", map[string]any{
		"name": "orders-" + uuid.NewString()[:8],
		"nodes": []map[string]any{
			{"id": "hook", "type": "trigger", "data": map[string]any{"triggerType": "webhook", "path": hook,
				"method": "POST", "verify_token": "tok-123"}},
			{"id": "out", "type": "action", "data": map[string]any{"actionType": "set_output",
				"output": map[string]any{"orderId": "{{ workflow.orderId }}", "via": "{{ workflow._webhook.path }}"}}},
		},
		"edges": []map[string]any{{"id": "e1", "source": "hook", "target": "out"}},
	})
	require.Equal(t, http.StatusCreated, code, "%v", wf)
	wfID := wf["workflowId"].(string)
	code, _, body := a.send("POST", "/v1/workflows/"+wfID+"/activate", nil)
	require.Equal(t, http.StatusOK, code, "%v", body)

	// B serves the route at once, with A's token check.
	code, _, body = b.send("POST", "/v1/webhooks"+hook, map[string]any{"orderId": "o-1"})
	require.Equal(t, http.StatusUnauthorized, code, "%v", body)
	require.Equal(t, "FLK-0362", body["code"])
	code, header, body := b.send("POST", "/v1/webhooks"+hook, map[string]any{"orderId": "o-1"},
		"X-Webhook-Token", "tok-123")
	require.Equal(t, http.StatusCreated, code, "%v", body)
	require.Equal(t, wfID, header.Get("X-Webhook-Workflow-ID"))
	execID := header.Get("X-Webhook-Execution-ID")
	require.Equal(t, execID, body["executionId"])

	// The execution completes, and A sees it.
	var ex map[string]any
	a.poll("the webhook execution to complete", func() bool {
		_, ex = a.mustGet("/v1/executions/" + execID)
		return ex["status"] == "completed"
	})
	_, res := a.mustGet("/v1/executions/" + execID + "/results")
	// _webhook.path as the reference gives it: without the leading slash.
	require.Equal(t, map[string]any{"orderId": "o-1", "via": strings.TrimPrefix(hook, "/")}, res["finalOutput"])

	// Synchronous mode through B.
	code, _, body = b.send("POST", "/v1/webhooks"+hook+"?wait=5s", map[string]any{"orderId": "o-2"},
		"X-Webhook-Token", "tok-123")
	require.Equal(t, http.StatusOK, code, "%v", body)
	require.Equal(t, "completed", body["status"])
	require.Equal(t, "o-2", body["finalOutput"].(map[string]any)["orderId"])

	// Deactivated through A: the route is gone from B too.
	code, _, body = a.send("POST", "/v1/workflows/"+wfID+"/deactivate", nil)
	require.Equal(t, http.StatusOK, code, "%v", body)
	code, _, body = b.send("POST", "/v1/webhooks"+hook, map[string]any{"orderId": "o-3"}, "X-Webhook-Token", "tok-123")
	require.Equal(t, http.StatusNotFound, code, "%v", body)
	require.Equal(t, "FLK-0361", body["code"])
}

// twoProcessesHolding starts two processes on one PostgreSQL (skipped
// without one) and a fake provider whose calls to path wait until free.
func twoProcessesHolding(t *testing.T, path string) (a, b *proc, fake *providertest.Server, free func()) {
	t.Helper()
	url := storetest.PostgresURL(t)
	fake = providertest.New(t)
	release := make(chan struct{})
	fake.Hold(path, release)
	var once sync.Once
	free = func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	a = start(t, "DATABASE_URL="+url, testSecretKey, "SSRF_ALLOW_PRIVATE=true")
	a.waitReady()
	b = start(t, "DATABASE_URL="+url, testSecretKey, "SSRF_ALLOW_PRIVATE=true")
	b.waitReady()
	return a, b, fake, free
}

// TestCancelAcrossProcesses: an execution runs on A, its first call held at
// the provider; the cancel goes to B. A sees it when it next writes progress
// and calls nothing more.
func TestCancelAcrossProcesses(t *testing.T) {
	t.Parallel()
	a, b, fake, free := twoProcessesHolding(t, "/a")

	execID := a.startExecution(a.callWorkflow(fake.URL, "a", "b"))
	a.poll("the first call to reach the provider", func() bool { return len(fake.RequestsTo("/a")) == 1 })

	code, _, body := b.send("POST", "/v1/executions/"+execID+"/cancel", nil)
	require.Equal(t, http.StatusOK, code, "%v", body)
	require.Equal(t, true, body["cancelRequested"])
	free()

	var ex map[string]any
	a.poll("the execution to be cancelled", func() bool {
		_, ex = a.mustGet("/v1/executions/" + execID)
		return ex["status"] != "running"
	})
	require.Equal(t, "cancelled", ex["status"], "%v", ex)
	require.Empty(t, fake.RequestsTo("/b"), "nothing is called once the cancel is seen")
}

// TestReplayWaitAcrossProcesses: synchronous replays, from several clients
// at once, served by B of an execution A runs. The run ends well within
// the wait; B answers each with its results (200), not 202 "running" after
// the whole wait: only the engine running an execution is told it ended,
// so a waiting caller also reads it (found by a defect hunt).
func TestReplayWaitAcrossProcesses(t *testing.T) {
	t.Parallel()
	a, b, fake, free := twoProcessesHolding(t, "/post")

	wfID := a.callWorkflow(fake.URL, "post")
	key := uuid.NewString()
	req := map[string]any{"inputData": map[string]any{"amount": 10}}
	code, _, body := a.send("POST", "/v1/workflows/"+wfID+"/executions", req, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, code, "%v", body)
	execID := body["executionId"].(string)
	a.poll("the call to reach the provider", func() bool { return len(fake.RequestsTo("/post")) == 1 })

	// Several clients replay at once on B; A's run ends 300 ms into their wait.
	type answer struct {
		code   int
		header http.Header
		body   map[string]any
		took   time.Duration
		err    error
	}
	answers := make([]answer, 8)
	var wg sync.WaitGroup
	time.AfterFunc(300*time.Millisecond, free)
	for i := range answers {
		wg.Go(func() {
			began := time.Now()
			code, header, body, err := b.sendJSON("POST", "/v1/workflows/"+wfID+"/executions?wait=8s", req,
				"Idempotency-Key", key)
			answers[i] = answer{code, header, body, time.Since(began), err}
		})
	}
	wg.Wait()
	for _, r := range answers {
		require.NoError(t, r.err)
		require.Equal(t, http.StatusOK, r.code, "answered after %s: %v", r.took, r.body)
		require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
		require.Equal(t, execID, r.body["executionId"])
		require.Equal(t, "completed", r.body["status"], "%v", r.body)
		require.Less(t, r.took, 5*time.Second, "answered once the run ended, not at the end of the wait")
	}
	require.Len(t, fake.RequestsTo("/post"), 1, "the replays called nothing")
}
