package httpapi_test

// The concurrency suite: many clients at once, each with its own data, and
// assertions that every execution saw exactly its own request. Run under
// -race in CI. A suite that passes with one client at a time proves little.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// post is a goroutine-safe request: errors are returned, not asserted.
func (h *harness) post(path string, body any, headers ...string) (int, http.Header, map[string]any, error) {
	return rawPost(h.base, path, body, headers...)
}

// parallel runs n clients, each doing per requests; fn gets (client, i).
func parallel(t *testing.T, clients, per int, fn func(c, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, clients*per)
	for c := range clients {
		wg.Go(func() {
			for i := range per {
				if err := fn(c, i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// Defect 1: with many concurrent webhook and API starts, each with its own
// query, header and body, every execution (and the provider call it made)
// saw exactly its own request.
func TestConcurrentStartsEachSeeTheirOwnRequest(t *testing.T) {
	t.Parallel()
	env := newFlowEnv(t, nil)
	env.fake.Respond("/echo", providertest.Response{Body: `{"ok":true}`})
	trigger := map[string]any{"id": "hook", "type": "trigger",
		"data": map[string]any{"triggerType": "webhook", "path": "/mine", "method": "POST"}}
	call := env.callNode("call", "/echo", map[string]any{"inputMapping": []map[string]any{
		{"source": "workflow._webhook.query.q", "target": "q"},
		{"source": "workflow.v", "target": "v"}}})
	out := outputNode("out", map[string]any{"q": "{{ workflow._webhook.query.q }}",
		"h": "{{ workflow._webhook.headers.X-Client }}", "v": "{{ workflow.v }}"})
	env.activate([]map[string]any{trigger, call, out}, []map[string]any{edge("hook", "call"), edge("call", "out")})

	api := env.activate([]map[string]any{triggerNode("t"),
		env.callNode("call", "/echo", map[string]any{"inputMapping": []map[string]any{{"source": "workflow.v", "target": "v"}}}),
		outputNode("out", map[string]any{"v": "{{ workflow.v }}"})},
		[]map[string]any{edge("t", "call"), edge("call", "out")})

	type sent struct{ q, h, v string }
	var mu sync.Mutex
	want := map[string]sent{} // execution id → what its request carried
	parallel(t, 8, 40, func(c, i int) error {
		s := sent{q: fmt.Sprintf("q-%d-%d", c, i), h: fmt.Sprintf("h-%d-%d", c, i), v: uuid.NewString()}
		var status int
		var body map[string]any
		var err error
		if i%4 == 3 { // a share of API starts among the webhooks
			s.q, s.h = "", ""
			status, _, body, err = env.post("/v1/workflows/"+api+"/executions",
				map[string]any{"inputData": map[string]any{"v": s.v}}, "Idempotency-Key", uuid.NewString())
		} else {
			status, _, body, err = env.post("/v1/webhooks/mine?q="+s.q, map[string]any{"v": s.v}, "X-Client", s.h)
		}
		if err != nil {
			return err
		}
		if status != http.StatusCreated {
			return fmt.Errorf("start answered %d: %v", status, body)
		}
		mu.Lock()
		want[body["executionId"].(string)] = s
		mu.Unlock()
		return nil
	})
	require.Len(t, want, 320)
	for id, s := range want {
		res := env.await(id, "completed")
		got := res["finalOutput"].(map[string]any)
		if s.q == "" {
			require.Equal(t, map[string]any{"v": s.v}, got, "execution %s", id)
			continue
		}
		require.Equal(t, map[string]any{"q": s.q, "h": s.h, "v": s.v}, got, "execution %s", id)
		input := step(t, res, "call")["input"].(map[string]any)["body"].(map[string]any)
		require.Equal(t, map[string]any{"q": s.q, "v": s.v}, input, "execution %s sent another request's data", id)
	}
	// The provider saw each request's own pair exactly once.
	seen := map[string]int{}
	for _, r := range env.fake.RequestsTo("/echo") {
		var b map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &b))
		seen[fmt.Sprint(b["v"])]++
	}
	for _, s := range want {
		require.Equal(t, 1, seen[s.v], "value %s", s.v)
	}
}

// Defect 3: fan-out branches whose mappings read the whole context ("$"
// and nodes.…) while siblings complete, many executions at once.
func TestConcurrentFanOutReadingTheWholeContext(t *testing.T) {
	t.Parallel()
	env := newFlowEnv(t, nil)
	env.fake.Respond("/fan", providertest.Response{Body: `{"n":1}`})
	nodes := []map[string]any{triggerNode("t")}
	var edges []map[string]any
	for i := range 6 {
		src := "$"
		if i%2 == 1 {
			src = "nodes"
		}
		id := fmt.Sprintf("b%d", i)
		nodes = append(nodes, env.callNode(id, "/fan", map[string]any{"inputMapping": []map[string]any{{"source": src, "target": "ctx"}}}))
		edges = append(edges, edge("t", id))
	}
	wf := env.activate(nodes, edges)
	var mu sync.Mutex
	var ids []string
	parallel(t, 4, 10, func(c, i int) error {
		status, _, body, err := env.post("/v1/workflows/"+wf+"/executions",
			map[string]any{"inputData": map[string]any{"c": c, "i": i}}, "Idempotency-Key", uuid.NewString())
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("start: %d %v %w", status, body, err)
		}
		mu.Lock()
		ids = append(ids, body["executionId"].(string))
		mu.Unlock()
		return nil
	})
	for _, id := range ids {
		res := env.await(id, "completed")
		require.Len(t, steps(t, res), 6)
	}
}

// Defect 2: a webhook redelivered with the same Idempotency-Key (same body
// and query, other headers, later) is a replay of the first execution,
// also when the deliveries race; a different body with that key is a 422.
func TestWebhookRedeliveryIsAReplay(t *testing.T) {
	t.Parallel()
	env := newFlowEnv(t, nil)
	env.fake.Respond("/echo", providertest.Response{Body: `{"ok":true}`})
	trigger := map[string]any{"id": "hook", "type": "trigger",
		"data": map[string]any{"triggerType": "webhook", "path": "/redeliver", "method": "POST"}}
	env.activate([]map[string]any{trigger, env.callNode("call", "/echo")}, []map[string]any{edge("hook", "call")})

	key := uuid.NewString()
	var mu sync.Mutex
	ids := map[string]int{}
	replays := 0
	parallel(t, 6, 3, func(c, i int) error {
		status, header, body, err := env.post("/v1/webhooks/redeliver?q=1", map[string]any{"amount": 10},
			"Idempotency-Key", key, "X-Delivery", fmt.Sprintf("%d-%d", c, i), "Traceparent",
			fmt.Sprintf("00-%032x-%016x-01", c*100+i+1, i+1))
		if err != nil {
			return err
		}
		if status != http.StatusCreated && status != http.StatusOK {
			return fmt.Errorf("delivery answered %d: %v", status, body)
		}
		mu.Lock()
		defer mu.Unlock()
		ids[fmt.Sprint(body["executionId"])]++
		if header.Get("Idempotent-Replayed") == "true" {
			replays++
		}
		return nil
	})
	require.Len(t, ids, 1, "every delivery must answer the first execution: %v", ids)
	require.Equal(t, 17, replays)
	for id := range ids {
		env.await(id, "completed")
	}
	require.Len(t, env.fake.RequestsTo("/echo"), 1)

	r := env.do("POST", "/v1/webhooks/redeliver?q=1", map[string]any{"amount": 11}, "Idempotency-Key", key)
	env.expect(r, http.StatusUnprocessableEntity, "FLK-0510")
	r = env.do("POST", "/v1/webhooks/redeliver?q=2", map[string]any{"amount": 10}, "Idempotency-Key", key)
	env.expect(r, http.StatusUnprocessableEntity, "FLK-0510")
}

// Concurrent cancels of one running execution: each answers 200, one
// audit event records the request, and the execution ends cancelled once.
// Cancels of executions that finish meanwhile answer 422 and record nothing.
func TestConcurrentCancelsAndRetries(t *testing.T) {
	t.Parallel()
	env := newFlowEnv(t, nil)
	release := make(chan struct{})
	env.fake.Hold("/slow", release)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	env.fake.Respond("/fast", providertest.Response{Body: `{"ok":true}`})
	slow := env.activate([]map[string]any{triggerNode("t"), env.callNode("call", "/slow")}, []map[string]any{edge("t", "call")})
	fast := env.activate([]map[string]any{triggerNode("t"), env.callNode("call", "/fast")}, []map[string]any{edge("t", "call")})

	held := env.startAsync(slow, nil)
	eventually(t, "the call to be in flight", func() bool { return len(env.fake.RequestsTo("/slow")) == 1 })
	var mu sync.Mutex
	codes := map[int]int{}
	parallel(t, 20, 1, func(_, _ int) error {
		status, _, body, err := env.post("/v1/executions/"+held+"/cancel", nil)
		if err != nil {
			return err
		}
		mu.Lock()
		codes[status]++
		mu.Unlock()
		if status != http.StatusOK && status != http.StatusUnprocessableEntity {
			return fmt.Errorf("cancel answered %d: %v", status, body)
		}
		return nil
	})
	env.await(held, "cancelled")
	events := env.expect(env.do("GET", "/v1/audit-events?resourceId="+held+"&eventType=EXECUTION_CANCEL_REQUESTED", nil), http.StatusOK, "")
	require.Len(t, events["items"], 1, "one cancel request, one audit event: %v (answers %v)", events, codes)

	// Cancels racing completion, and retries racing each other.
	var ids []string
	for range 20 {
		ids = append(ids, env.startAsync(fast, nil))
	}
	parallel(t, 20, 1, func(c, _ int) error {
		status, _, body, err := env.post("/v1/executions/"+ids[c]+"/cancel", nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK && status != http.StatusUnprocessableEntity {
			return fmt.Errorf("cancel answered %d: %v", status, body)
		}
		return nil
	})
	for _, id := range ids {
		res := env.awaitAny(id)
		events := env.expect(env.do("GET", "/v1/audit-events?resourceId="+id+"&eventType=EXECUTION_CANCEL_REQUESTED", nil), http.StatusOK, "")
		n := len(events["items"].([]any))
		switch res["status"] {
		case "cancelled":
			require.Equal(t, 1, n, "execution %s", id)
		case "completed": // finished first; a cancel that came later recorded nothing, or it came too late to matter
			require.LessOrEqual(t, n, 1, "execution %s", id)
		default:
			t.Fatalf("execution %s ended %v", id, res["status"])
		}
		if res["status"] == "cancelled" {
			parallel(t, 5, 1, func(_, _ int) error {
				status, _, body, err := env.post("/v1/executions/"+id+"/retry", nil)
				if err != nil {
					return err
				}
				if status != http.StatusAccepted && status != http.StatusUnprocessableEntity {
					return fmt.Errorf("retry answered %d: %v", status, body)
				}
				return nil
			})
			env.awaitAny(id)
		}
	}
	// Every provider call of a cancelled-then-retried step reused its key.
	keys := map[string]int{}
	for _, r := range env.fake.RequestsTo("/fast") {
		keys[r.Header.Get("Idempotency-Key")]++
	}
	for k := range keys {
		require.Contains(t, k, "/call", k)
		require.NotContains(t, k, "retry-", "a retry after a cancel must keep the step's key")
	}
}

// awaitAny waits for an execution to be terminal and returns its results.
func (h *harness) awaitAny(id string) map[string]any {
	h.t.Helper()
	var res map[string]any
	eventually(h.t, "execution "+id+" to finish", func() bool {
		res = h.expect(h.do("GET", "/v1/executions/"+id+"/results", nil), http.StatusOK, "")
		s := res["status"]
		return s == "completed" || s == "failed" || s == "cancelled"
	})
	return res
}

// During a database outage a start answers 503 with Retry-After (and the
// store's FLK-0012), not a 500: the client should try again.
func TestStartDuringDatabaseOutageIs503(t *testing.T) {
	t.Parallel()
	env := newFlowEnv(t, nil)
	wf := env.activate([]map[string]any{triggerNode("t"), env.callNode("call", "/x")}, []map[string]any{edge("t", "call")})
	require.NoError(t, env.store.Close()) // every call now fails as the database being gone
	r := env.start(wf, "", map[string]any{"a": 1})
	env.expect(r, http.StatusServiceUnavailable, "FLK-0012")
	require.Equal(t, "1", r.header.Get("Retry-After"))
	r = env.do("GET", "/v1/executions?workflowId="+wf, nil)
	env.expect(r, http.StatusServiceUnavailable, "FLK-0012")
}
