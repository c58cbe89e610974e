package httpapi_test

// Executor calls end to end: what is sent (mappings, literal fields, GET
// query), what comes back (outputMapping), retries, the Idempotency-Key and
// the circuit breaker.

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/engine"
	"flowker/internal/provider/providertest"
)

func sentBody(t *testing.T, r providertest.Request) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), string(r.Body))
	return m
}

// TestInputMappingBuildsTheBody: mapped fields and literal body fields are
// sent, and nothing else of the context.
func TestInputMappingBuildsTheBody(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a", map[string]any{
		"body": map[string]any{"channel": "pix", "version": 2},
		"inputMapping": []map[string]any{
			{"source": "workflow.customer.id", "target": "customerId", "required": true},
			{"source": "workflow.amount", "target": "payment.amount"},
			{"source": "workflow.missing", "target": "optional"},
		}})}, []map[string]any{edge("t", "a")})

	res := e.run(wf, map[string]any{"customer": map[string]any{"id": "c-1", "name": "Ana"}, "amount": 12.5,
		"secret": "s3cret"})
	require.Equal(t, "completed", res["status"], "%v", res)
	calls := e.fake.RequestsTo("/a")
	require.Len(t, calls, 1)
	require.Equal(t, map[string]any{"channel": "pix", "version": 2.0, "customerId": "c-1",
		"payment": map[string]any{"amount": 12.5}, "optional": nil}, sentBody(t, calls[0]))
	require.Equal(t, "application/json", calls[0].Header.Get("Content-Type"))
	input := step(t, res, "a")["input"].(map[string]any)
	require.Equal(t, sentBody(t, calls[0]), input["body"], "the step keeps what was actually sent")

	// A required source that is missing fails the step, naming the path.
	res = e.run(wf, map[string]any{"amount": 1})
	require.Equal(t, "failed", res["status"], "%v", res)
	a := step(t, res, "a")
	require.Equal(t, "failed", a["status"])
	require.Contains(t, a["errorMessage"], "workflow.customer.id")
	require.Contains(t, res["errorMessage"], "workflow.customer.id")
	require.Len(t, e.fake.RequestsTo("/a"), 1, "nothing is sent when the input cannot be built")
}

// TestGetSendsQueryParameters: GET sends the fields as query parameters.
func TestGetSendsQueryParameters(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/accounts", map[string]any{
		"method": "GET", "query": map[string]any{"page": "2"}, "body": map[string]any{"status": "active"},
		"inputMapping": []map[string]any{{"source": "workflow.accountId", "target": "accountId"}}})},
		[]map[string]any{edge("t", "a")})

	res := e.run(wf, map[string]any{"accountId": "acc-9"})
	require.Equal(t, "completed", res["status"], "%v", res)
	calls := e.fake.RequestsTo("/accounts")
	require.Len(t, calls, 1)
	require.Equal(t, http.MethodGet, calls[0].Method)
	require.Equal(t, "2", calls[0].Query.Get("page"))
	require.Equal(t, "active", calls[0].Query.Get("status"))
	require.Equal(t, "acc-9", calls[0].Query.Get("accountId"))
	require.Empty(t, calls[0].Body)
}

// TestOutputMappingShapesTheNodeOutput: a later condition sees the mapped
// output, not the response envelope.
func TestOutputMappingShapesTheNodeOutput(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	e.fake.Respond("/a", okJSON(map[string]any{"result": map[string]any{"decision": "ALLOW", "id": "v-1"}}))
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a", map[string]any{
		"outputMapping": []map[string]any{{"source": "body.result.decision", "target": "decision"},
			{"source": "status", "target": "httpStatus"}}}),
		condNode("check", `a.decision == "ALLOW" && a.httpStatus == 200`),
		outputNode("allow", map[string]any{"d": "{{ a.decision }}"}), outputNode("deny", map[string]any{"d": "no"})},
		[]map[string]any{edge("t", "a"), edge("a", "check"), edge("check", "allow", "true"), edge("check", "deny", "false")})

	res := e.run(wf, nil)
	require.Equal(t, "completed", res["status"], "%v", res)
	require.Equal(t, map[string]any{"decision": "ALLOW", "httpStatus": 200.0}, step(t, res, "a")["output"])
	require.Equal(t, map[string]any{"d": "ALLOW"}, res["finalOutput"])
	require.Equal(t, "skipped", step(t, res, "deny")["status"])
}

func TestRetryOn503ThenSuccess(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	e.fake.Enqueue("/a", providertest.Response{Status: http.StatusServiceUnavailable, Body: `{"e":"busy"}`})
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a")}, []map[string]any{edge("t", "a")})

	res := e.run(wf, nil)
	require.Equal(t, "completed", res["status"], "%v", res)
	a := step(t, res, "a")
	require.Equal(t, 2, num(t, a["attempts"]))
	require.Len(t, e.fake.RequestsTo("/a"), 2)
}

func TestRetryOn429HonoursRetryAfter(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil) // backoff is at most 5ms: only Retry-After explains a 1s wait
	e.fake.Enqueue("/a", providertest.Response{Status: http.StatusTooManyRequests,
		Header: http.Header{"Retry-After": {"1"}}, Body: `{"e":"slow down"}`})
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a")}, []map[string]any{edge("t", "a")})

	res := e.run(wf, nil)
	require.Equal(t, "completed", res["status"], "%v", res)
	a := step(t, res, "a")
	require.Equal(t, 2, num(t, a["attempts"]))
	require.GreaterOrEqual(t, num(t, a["durationMs"]), 1000, "the step waited for Retry-After")
	require.Len(t, e.fake.RequestsTo("/a"), 2)
}

// TestNoRetryOn4xx: the request is wrong; retrying will not fix it. The
// failed response is kept in the step.
func TestNoRetryOn4xx(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	e.fake.Respond("/a", providertest.Response{Status: http.StatusBadRequest, Body: `{"error":"amount is invalid"}`})
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), e.callNode("b", "/b")},
		[]map[string]any{edge("t", "a"), edge("a", "b")})

	res := e.run(wf, nil)
	require.Equal(t, "failed", res["status"], "%v", res)
	a := step(t, res, "a")
	require.Equal(t, "failed", a["status"])
	require.Equal(t, 1, num(t, a["attempts"]))
	require.Contains(t, a["errorMessage"], "400")
	details := a["callDetails"].(map[string]any)
	require.Equal(t, 400, num(t, details["statusCode"]))
	require.Contains(t, details["responseBody"], "amount is invalid")
	require.Len(t, e.fake.RequestsTo("/a"), 1)
	require.Empty(t, e.fake.RequestsTo("/b"), "nothing runs after a failed step")
	require.Empty(t, stepsOf(t, res, "b"))
}

// TestRetryOnTransportErrorUntilMax: a closed port is retried, then fails
// with every attempt counted.
func TestRetryOnTransportErrorUntilMax(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, func(o *engine.Options) { o.Retry.MaxAttempts = 3 })
	dead := e.createProvider(httpProviderBody(closedPortURL(t)))
	wf := e.activate([]map[string]any{triggerNode("t"), callNodeFor(dead, "a", "/a")}, []map[string]any{edge("t", "a")})

	res := e.run(wf, nil)
	require.Equal(t, "failed", res["status"], "%v", res)
	a := step(t, res, "a")
	require.Equal(t, 3, num(t, a["attempts"]))
	require.Contains(t, a["errorMessage"], "after 3 attempts")
}

// TestIdempotencyKeyToProvider: one key for every attempt of a step, a
// different key per step.
func TestIdempotencyKeyToProvider(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, nil)
	e.fake.Enqueue("/a", providertest.Response{Status: 502}, providertest.Response{Status: 503})
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a"), e.callNode("b", "/b")},
		[]map[string]any{edge("t", "a"), edge("a", "b")})

	res := e.run(wf, nil)
	require.Equal(t, "completed", res["status"], "%v", res)
	calls := e.fake.RequestsTo("/a")
	require.Len(t, calls, 3)
	key := calls[0].Header.Get("Idempotency-Key")
	require.NotEmpty(t, key)
	for _, c := range calls[1:] {
		require.Equal(t, key, c.Header.Get("Idempotency-Key"), "every attempt of a step carries the same key")
	}
	require.Equal(t, key, step(t, res, "a")["callDetails"].(map[string]any)["idempotencyKey"])
	b := e.fake.RequestsTo("/b")
	require.Len(t, b, 1)
	require.NotEmpty(t, b[0].Header.Get("Idempotency-Key"))
	require.NotEqual(t, key, b[0].Header.Get("Idempotency-Key"))

	// Another execution of the same workflow: other keys.
	e.run(wf, nil)
	require.NotEqual(t, key, e.fake.RequestsTo("/a")[3].Header.Get("Idempotency-Key"))
}

// TestCircuitBreaker: after Failures consecutive 5xx the breaker opens and
// the next execution fails fast without a call; after OpenFor one trial
// call goes through and its success closes the breaker again. Breakers are
// per provider configuration.
func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	const openFor = 3 * time.Second // long enough to observe the open state on a loaded machine
	e := newFlowEnv(t, func(o *engine.Options) {
		o.Retry.MaxAttempts = 3
		o.Breaker = engine.BreakerPolicy{Failures: 3, OpenFor: openFor}
	})
	e.fake.Respond("/a", providertest.Response{Status: http.StatusInternalServerError, Body: `{"e":"down"}`})
	wf := e.activate([]map[string]any{triggerNode("t"), e.callNode("a", "/a")}, []map[string]any{edge("t", "a")})

	before := time.Now() // the breaker opens after this…
	res := e.run(wf, nil)
	opened := time.Now() // …and before this
	require.Equal(t, "failed", res["status"], "%v", res)
	require.Equal(t, 3, num(t, step(t, res, "a")["attempts"]))
	require.Len(t, e.fake.RequestsTo("/a"), 3)

	// Open: the step fails fast, the provider is not called.
	res = e.run(wf, nil)
	require.Less(t, time.Since(before), openFor, "too slow to observe the open breaker")
	require.Equal(t, "failed", res["status"], "%v", res)
	require.Contains(t, step(t, res, "a")["errorMessage"], "circuit breaker open")
	require.Len(t, e.fake.RequestsTo("/a"), 3, "an open breaker does not call the provider")

	// Another provider configuration on the same host has its own breaker.
	other := e.createProvider(httpProviderBody(e.fake.URL))
	wf2 := e.activate([]map[string]any{triggerNode("t"), callNodeFor(other, "b", "/b")}, []map[string]any{edge("t", "b")})
	require.Equal(t, "completed", e.run(wf2, nil)["status"])

	// Half-open once OpenFor has passed (waiting for the configured time is
	// the behaviour under test): one trial call goes through; its success
	// closes the breaker.
	e.fake.Respond("/a", okJSON(map[string]any{"ok": true}))
	<-time.After(time.Until(opened.Add(openFor)))
	trial := e.run(wf, nil)
	require.Equal(t, "completed", trial["status"], "%v", trial)
	require.Equal(t, 1, num(t, step(t, trial, "a")["attempts"]))
	require.Len(t, e.fake.RequestsTo("/a"), 4, "exactly one trial call")
	res = e.run(wf, nil)
	require.Equal(t, "completed", res["status"], "closed again: %v", res)
	require.Len(t, e.fake.RequestsTo("/a"), 5)
}
