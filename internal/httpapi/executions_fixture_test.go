package httpapi_test

// Fixtures for the execution tests: a harness with a scriptable fake
// provider behind an active `http` provider configuration, node and edge
// builders, and waits that poll with a deadline instead of sleeping.

import (
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

	"flowker/internal/engine"
	"flowker/internal/provider/providertest"
)

// waitLimit bounds every wait of these tests.
const waitLimit = 10 * time.Second

// flowEnv is a harness, a fake provider and an http provider configuration
// whose base_url is the fake.
type flowEnv struct {
	*harness
	fake *providertest.Server
	pc   string // provider configuration id
}

// newFlowEnv builds a flowEnv; tune (may be nil) changes the engine options.
func newFlowEnv(t *testing.T, tune func(*engine.Options)) *flowEnv {
	t.Helper()
	h := newHarnessOpts(t, allowPrivate, tune)
	fake := providertest.New(t)
	return &flowEnv{harness: h, fake: fake, pc: h.createProvider(httpProviderBody(fake.URL))}
}

// httpProviderBody is a create body for an `http` provider configuration.
func httpProviderBody(baseURL string) map[string]any {
	return map[string]any{"name": "http-" + uuid.NewString()[:8], "providerId": "http",
		"config": map[string]any{"base_url": baseURL}}
}

// node builders ---------------------------------------------------------

func triggerNode(id string) map[string]any { return map[string]any{"id": id, "type": "trigger"} }

// webhookNode is a trigger node "hook" serving POST /v1/webhooks<path>.
func webhookNode(path string) map[string]any {
	return map[string]any{"id": "hook", "type": "trigger",
		"data": map[string]any{"triggerType": "webhook", "path": path, "method": "POST"}}
}

// callNode is an http.request executor node calling method path on the
// fake; extra data (body, query, inputMapping, …) is merged in.
func (e *flowEnv) callNode(id, path string, extra ...map[string]any) map[string]any {
	return callNodeFor(e.pc, id, path, extra...)
}

func callNodeFor(pc, id, path string, extra ...map[string]any) map[string]any {
	data := map[string]any{"executorId": "http.request", "providerConfigId": pc, "method": "POST", "path": path}
	for _, x := range extra {
		for k, v := range x {
			data[k] = v
		}
	}
	return map[string]any{"id": id, "type": "executor", "data": data}
}

func condNode(id, condition string) map[string]any {
	return map[string]any{"id": id, "type": "conditional", "data": map[string]any{"condition": condition}}
}

func outputNode(id string, output map[string]any) map[string]any {
	return map[string]any{"id": id, "type": "action",
		"data": map[string]any{"actionType": "set_output", "output": output}}
}

// edge links from → to; handle (optional) is the source handle.
func edge(from, to string, handle ...string) map[string]any {
	e := map[string]any{"id": from + "-" + to, "source": from, "target": to}
	if len(handle) > 0 {
		e["sourceHandle"] = handle[0]
		e["id"] = from + "-" + handle[0] + "-" + to
	}
	return e
}

func condEdge(from, to, condition string) map[string]any {
	e := edge(from, to)
	e["condition"] = condition
	return e
}

// workflowBody is a create body for a workflow with a unique name.
func workflowBody(nodes, edges []map[string]any) map[string]any {
	if edges == nil {
		edges = []map[string]any{}
	}
	return map[string]any{"name": "wf-" + uuid.NewString()[:8], "nodes": nodes, "edges": edges}
}

// activate creates and activates a workflow and returns its id.
func (h *harness) activate(nodes, edges []map[string]any) string {
	h.t.Helper()
	wf := h.expect(h.do("POST", "/v1/workflows", workflowBody(nodes, edges)), http.StatusCreated, "")
	id, _ := wf["workflowId"].(string)
	require.NotEmpty(h.t, id, "%v", wf)
	h.expect(h.do("POST", "/v1/workflows/"+id+"/activate", nil), http.StatusOK, "")
	return id
}

// executions ------------------------------------------------------------

// start starts an execution by API with a fresh Idempotency-Key (query may
// be "?wait=5s" or "").
func (h *harness) start(workflowID, query string, input map[string]any, headers ...string) response {
	h.t.Helper()
	headers = append([]string{"Idempotency-Key", uuid.NewString()}, headers...)
	return h.do("POST", "/v1/workflows/"+workflowID+"/executions"+query, map[string]any{"inputData": input}, headers...)
}

// run starts an execution in synchronous mode and returns its results.
func (h *harness) run(workflowID string, input map[string]any) map[string]any {
	h.t.Helper()
	r := h.start(workflowID, "?wait=5s", input)
	return h.expect(r, http.StatusOK, "")
}

// startAsync starts an execution without waiting and returns its id.
func (h *harness) startAsync(workflowID string, input map[string]any) string {
	h.t.Helper()
	res := h.expect(h.start(workflowID, "", input), http.StatusCreated, "")
	id, _ := res["executionId"].(string)
	require.NotEmpty(h.t, id)
	return id
}

// await polls an execution until it is terminal, requires status want and
// returns its results.
func (h *harness) await(id, want string) map[string]any {
	h.t.Helper()
	var status any
	eventually(h.t, "execution "+id+" to finish", func() bool {
		status = h.expect(h.do("GET", "/v1/executions/"+id, nil), http.StatusOK, "")["status"]
		return status == "completed" || status == "failed" || status == "cancelled"
	})
	res := h.expect(h.do("GET", "/v1/executions/"+id+"/results", nil), http.StatusOK, "")
	require.Equal(h.t, want, status, "%v", res)
	return res
}

// steps returns the step results in order.
func steps(t *testing.T, res map[string]any) []map[string]any {
	t.Helper()
	raw, ok := res["stepResults"].([]any)
	require.True(t, ok, "%v", res)
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

// stepsOf returns the steps recorded for node, in order.
func stepsOf(t *testing.T, res map[string]any, node string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, s := range steps(t, res) {
		if s["nodeId"] == node {
			out = append(out, s)
		}
	}
	return out
}

// step returns the only step of node.
func step(t *testing.T, res map[string]any, node string) map[string]any {
	t.Helper()
	s := stepsOf(t, res, node)
	require.Len(t, s, 1, "node %s: %v", node, res)
	return s[0]
}

// statuses maps node id → status of its last step.
func statuses(t *testing.T, res map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range steps(t, res) {
		out[s["nodeId"].(string)] = s["status"].(string)
	}
	return out
}

func num(t *testing.T, v any) int {
	t.Helper()
	f, ok := v.(float64)
	require.True(t, ok, "not a number: %v", v)
	return int(f)
}

// the fake provider -----------------------------------------------------

// okJSON is a 200 answer with body encoded as JSON.
func okJSON(body any) providertest.Response {
	raw, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return providertest.Response{Body: string(raw)}
}

// hold keeps calls to path in flight until the returned release is called
// (at the latest when the test ends, before the fake closes).
func (e *flowEnv) hold(path string) (release func()) {
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	e.fake.Hold(path, ch)
	e.t.Cleanup(release)
	return release
}

// waitCalls waits until the fake has received n calls to path.
func (e *flowEnv) waitCalls(path string, n int) []providertest.Request {
	e.t.Helper()
	var got []providertest.Request
	eventually(e.t, fmt.Sprintf("%d call(s) to %s", n, path), func() bool {
		got = e.fake.RequestsTo(path)
		return len(got) >= n
	})
	return got
}

// paths lists the paths the fake received, in order.
func (e *flowEnv) paths() []string {
	var out []string
	for _, r := range e.fake.Requests() {
		out = append(out, r.Path)
	}
	return out
}

// eventually polls cond until it holds or waitLimit passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(waitLimit)
	for !cond() {
		select {
		case <-tick.C:
		case <-limit:
			t.Fatalf("timed out after %s waiting for %s", waitLimit, what)
		}
	}
}

// rawPost is a POST usable from goroutines (no require): status, header, body.
func rawPost(base, path string, body any, headers ...string) (int, http.Header, map[string]any, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, nil, err
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+path, strings.NewReader(string(raw)))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("body %q: %w", b, err)
	}
	return resp.StatusCode, resp.Header, m, nil
}
