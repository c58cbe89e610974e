package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"flowker/internal/catalog"
	"flowker/internal/expr"
	"flowker/internal/flow"
	"flowker/internal/jsonenc"
	"flowker/internal/plan"
	"flowker/internal/provider"
	"flowker/internal/secret"
	"flowker/internal/store"
)

// target is a resolved executor call: where, how to authenticate, what
// counts as success, and the breaker it belongs to.
type target struct {
	breakerKey string
	method     string
	url        string // base URL joined with the path
	auth       provider.Auth
	header     http.Header
	timeout    time.Duration
	success    func(int) bool
	details    map[string]any // ids that identify the target in the step
	spanName   string
	// current reports whether the configuration the target came from is
	// still the one resolved (active, same revision): a retry of a call is
	// not sent with what was disabled or replaced meanwhile.
	current func(context.Context) error
}

// errorBodyLimit bounds the failed response body kept in a step.
const errorBodyLimit = 2048

// runExecutor runs one executor node: resolve its target, build the
// request from its mappings, call with retries, map the output. vars and
// key are the coordinator's snapshot: immutable, owned by this call. A
// panic here fails the node, not the process.
func (r *run) runExecutor(ctx context.Context, n *plan.Node, vars map[string]any, key string) (res nodeResult) {
	ctx, span := r.e.tracer.Start(ctx, "command.execution.execute_executor_node", trace.WithAttributes(
		attribute.String("node.id", n.ID), attribute.String("execution.id", r.id.String())))
	defer span.End()
	started := time.Now()
	st := flow.Step{NodeID: n.ID, Name: stepName(n), StartedAt: r.e.now()}
	executorID, _ := n.Data["executorId"].(string)
	if executorID == "" {
		executorID = "executor-config"
	}
	defer func() {
		if p := recover(); p != nil {
			r.e.log.Error("executor node panicked", r.logFields(ctx, zap.String("node.id", n.ID), zap.Any("panic", p),
				zap.ByteString("stack", debug.Stack()))...)
			st.Status, st.Output, st.ErrorMessage = flow.StepFailed, nil, stepError(fmt.Errorf("internal error: %v", p))
			st.CompletedAt = r.e.now()
			res = nodeResult{node: n, step: st}
		}
		if st.Status == flow.StepFailed {
			span.SetStatus(codes.Error, st.ErrorMessage)
		}
		r.e.metrics.StepFinished(ctx, executorID, string(st.Status), time.Since(started))
	}()
	out, err := r.call(ctx, n, vars, key, &st)
	st.CompletedAt = r.e.now()
	if err != nil {
		st.Status, st.ErrorMessage = flow.StepFailed, stepError(err)
		return nodeResult{node: n, step: st}
	}
	st.Status, st.Output = flow.StepCompleted, out
	return nodeResult{node: n, step: st, out: out}
}

func (r *run) call(ctx context.Context, n *plan.Node, vars map[string]any, key string, st *flow.Step) (any, error) {
	t, err := r.resolve(ctx, n)
	if err != nil {
		return nil, err
	}
	ctx, span := r.e.tracer.Start(ctx, t.spanName)
	defer span.End()
	body, err := r.requestBody(n, vars)
	if err != nil {
		return nil, err
	}
	req, sent, err := buildRequest(t, n, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Idempotency-Key", key)
	// The record of what was sent is redacted with the log rules (secret
	// names, header values, URL user info, query values); req is not.
	st.Input = secret.Redact(sent)
	resp, attempts, err := r.e.callWithRetry(ctx, t, req)
	st.Attempts = attempts
	st.CallDetails = maps.Clone(t.details)
	calledURL := secret.RedactText(t.url) // as the step records it: user info, query values, callback tokens hidden
	st.CallDetails["method"], st.CallDetails["url"] = req.Method, calledURL
	st.CallDetails["idempotencyKey"] = req.Header.Get("Idempotency-Key")
	st.CallDetails["attempts"] = attempts
	if resp != nil {
		st.CallDetails["statusCode"], st.CallDetails["durationMs"] = resp.StatusCode, resp.Duration.Milliseconds()
	}
	if err == nil && resp.Truncated { // part of an answer could read as another answer: a REJECT as no decision
		st.CallDetails["responseTruncated"] = true
		err = fmt.Errorf("provider answered %d with a body over the response limit (%d bytes): not read in part",
			resp.StatusCode, len(resp.Body))
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		if resp != nil {
			st.CallDetails["responseBody"] = storableText(truncate(secret.RedactText(string(resp.Body)), errorBodyLimit))
		}
		return nil, err
	}
	answer, sanitized := decodeBody(resp)
	if sanitized {
		st.CallDetails["responseSanitized"] = true
	}
	// The reference's envelope (docs/engine.md, "Conditions, mappings").
	headers, headersCut := flatHeaders(resp.Header)
	if headersCut { // the call succeeded: only its record is cut
		st.CallDetails["responseHeadersTruncated"] = true
	}
	envelope := map[string]any{"status": float64(resp.StatusCode), // a JSON number, as it reads back from the store
		"status_text": statusText(resp.StatusCode), "url": calledURL, "headers": headers, "body": answer}
	if n.OutputMap == nil {
		return envelope, nil
	}
	out, err := n.OutputMap.Apply(envelope)
	if err != nil {
		return nil, fmt.Errorf("outputMapping: %w", err)
	}
	return out, nil
}

// resolve finds where the node calls: a catalog executor through a
// provider configuration, or a user-defined executor configuration.
func (r *run) resolve(ctx context.Context, n *plan.Node) (target, error) {
	if raw, ok := n.Data["executorConfigId"].(string); ok {
		return r.resolveExecutorConfig(ctx, n, raw)
	}
	executorID, _ := n.Data["executorId"].(string)
	ex, ok := r.e.catalog.Executor(executorID)
	if !ok {
		return target{}, fmt.Errorf("executor %q not in the catalog", executorID)
	}
	raw, _ := n.Data["providerConfigId"].(string)
	id, err := uuid.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("providerConfigId %q is not a UUID", raw)
	}
	rc, err := r.e.providerConfig(ctx, id)
	if err != nil {
		return target{}, err
	}
	cfg, tt := rc.pc.Config, rc.target
	base, _ := cfg[ex.BaseURLKey].(string)
	if base == "" {
		base = tt.BaseURL
	}
	method := ex.Method
	if m, _ := n.Data["method"].(string); m != "" && !routeTable(ex) {
		method = strings.ToUpper(m)
	}
	path, err := fillPath(nodePath(ex, n.Data), cfg, n.Data)
	if err != nil {
		return target{}, err
	}
	timeout := seconds(n.Data["timeout"], seconds(cfg["timeout_seconds"], 30*time.Second))
	return target{
		breakerKey: targetKey(n), method: method, url: joinURL(base, path),
		auth: tt.Auth, header: tt.Header, timeout: timeout, success: successCodes(ex, n.Data),
		details:  map[string]any{"providerConfigId": id.String(), "executorId": ex.ID},
		spanName: "command.execution.execute_with_provider_config",
		current: func(ctx context.Context) error {
			// A view of its own, read now: the call's context may carry the
			// catalog view of the write before it (startCalls), as old as
			// the call, under which a disable since is not seen.
			now, err := r.e.providerConfig(store.WithCatalogView(ctx), id)
			if err == nil && now.pc.Revision != rc.pc.Revision {
				err = fmt.Errorf("provider configuration %s changed during the call", id)
			}
			return err
		},
	}, nil
}

// routeTable tells the executors whose calls are fixed by the catalog, as
// the reference's Midaz input builder fixes them: method and path come from
// the route, and node `method`, `path` and `endpointName` are ignored.
func routeTable(ex *catalog.Executor) bool { return ex.ProviderID == "midaz" }

// nodePath is the path an executor node calls below its base URL. For the
// reference's generic builder (Tracer; here also HTTP) that is node `path`,
// else `endpointName`, else none: the base URL alone, as the reference
// calls it. The catalog's default path is deliberately not used there: a
// reference client that names neither has the full endpoint in its
// base_url (docs/decisions.md, "Reference clients").
func nodePath(ex *catalog.Executor, data map[string]any) string {
	if routeTable(ex) {
		return ex.Path
	}
	for _, k := range []string{"path", "endpointName"} {
		if p, _ := data[k].(string); p != "" {
			return p
		}
	}
	return ""
}

func (r *run) resolveExecutorConfig(ctx context.Context, n *plan.Node, raw string) (target, error) {
	id, err := uuid.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("executorConfigId %q is not a UUID", raw)
	}
	ec, err := r.e.store.GetExecutorConfig(ctx, id)
	if err != nil {
		return target{}, fmt.Errorf("executor configuration %s: %w", id, err)
	}
	if ec.Status != flow.ConfigActive {
		return target{}, fmt.Errorf("executor configuration %s is %s; only an active one may run", id, ec.Status)
	}
	name, _ := n.Data["endpointName"].(string)
	ep, ok := ec.Endpoint(name)
	if !ok {
		return target{}, fmt.Errorf("executor configuration %s has no endpoint %q", id, name)
	}
	if err := r.e.box.OpenExecutor(ec); err != nil { // authentication and a base URL with user info
		return target{}, err
	}
	m := maps.Clone(ec.Authentication.Config)
	if m == nil {
		m = map[string]any{}
	}
	m["type"] = ec.Authentication.Type
	auth, err := provider.AuthFromMap(m)
	if err != nil {
		return target{}, err
	}
	path, err := fillPath(ep.Path, nil, n.Data)
	if err != nil {
		return target{}, err
	}
	return target{
		breakerKey: targetKey(n), method: ep.Method, url: joinURL(ec.BaseURL, path),
		auth: auth, header: http.Header{}, timeout: time.Duration(ep.Timeout) * time.Second,
		success:  func(c int) bool { return c >= 200 && c < 300 },
		details:  map[string]any{"executorConfigId": id.String(), "endpointName": name},
		spanName: "command.execution.execute_executor_config",
		current: func(ctx context.Context) error {
			now, err := r.e.store.GetExecutorConfig(ctx, id)
			switch {
			case err != nil:
				return err
			case now.Status != flow.ConfigActive:
				return fmt.Errorf("executor configuration %s is %s; only an active one may run", id, now.Status)
			case now.Revision != ec.Revision:
				return fmt.Errorf("executor configuration %s changed during the call", id)
			}
			return nil
		},
	}, nil
}

// requestBody is the mapped input merged over the node's literal fields.
// With neither, nothing is sent: the whole context never leaves Flowker.
func (r *run) requestBody(n *plan.Node, vars map[string]any) (map[string]any, error) {
	body := map[string]any{}
	if n.Data["executorId"] == "http.request" {
		if b, ok := n.Data["body"].(map[string]any); ok {
			maps.Copy(body, b)
		}
	} else {
		for k, v := range n.Data {
			body[k] = v
		}
		for _, k := range plan.EngineKeys {
			delete(body, k)
		}
	}
	if n.InputMap == nil {
		return body, nil
	}
	mapped, err := n.InputMap.Apply(vars)
	if err != nil {
		return nil, fmt.Errorf("inputMapping: %w", err)
	}
	if m, ok := mapped.(map[string]any); ok {
		maps.Copy(body, m)
		return body, nil
	}
	return nil, fmt.Errorf("inputMapping produced %T, not an object", mapped)
}

// buildRequest turns the body into a request: JSON for methods with a
// body, query parameters (scalars) for GET, HEAD and DELETE.
func buildRequest(t target, n *plan.Node, body map[string]any) (provider.Request, map[string]any, error) {
	req := provider.Request{Method: t.method, URL: t.url, Header: t.header.Clone(), Auth: t.auth, Timeout: t.timeout,
		Query: url.Values{}}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if n.Data["executorId"] == "http.request" {
		for k, v := range asStrings(n.Data["query"]) {
			req.Query.Set(k, v)
		}
		for k, v := range asStrings(n.Data["headers"]) {
			req.Header.Set(k, v)
		}
	}
	sent := map[string]any{"method": t.method, "url": t.url}
	switch t.method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
		for k, v := range body {
			switch v.(type) {
			case string, float64, bool, int:
				req.Query.Set(k, expr.Text(v))
			}
		}
		if len(req.Query) > 0 {
			sent["query"] = req.Query
		}
	default:
		raw, err := jsonenc.Marshal(body)
		if err != nil {
			return req, nil, err
		}
		req.Body = raw
		req.Header.Set("Content-Type", "application/json")
		sent["body"] = body
	}
	return req, sent, nil
}

func successCodes(ex *catalog.Executor, data map[string]any) func(int) bool {
	if ex.ID == "http.request" {
		if list, ok := data["success_status_codes"].([]any); ok && len(list) > 0 {
			return func(c int) bool {
				for _, x := range list {
					if f, ok := x.(float64); ok && int(f) == c {
						return true
					}
				}
				return false
			}
		}
	}
	return func(c int) bool { return c >= 200 && c < 300 }
}

// fillPath replaces {name} placeholders from the provider configuration,
// then the node data; values are path-escaped (the reference was not).
func fillPath(path string, cfg, data map[string]any) (string, error) {
	var missing error
	out := placeholder.ReplaceAllStringFunc(path, func(m string) string {
		name := m[1 : len(m)-1]
		for _, src := range []map[string]any{cfg, data} {
			if v, ok := src[name]; ok {
				if text := expr.Text(v); text != "" {
					return url.PathEscape(text)
				}
			}
		}
		missing = fmt.Errorf("missing required path parameter %q", name)
		return m
	})
	return out, missing
}

func joinURL(base, path string) string {
	if path == "" {
		return base
	}
	// Every trailing slash, as a saved base URL drops them and the
	// connection test joins: "…/v1//" and "…/v1" call one place.
	return flow.TrimBaseURL(base) + "/" + strings.TrimPrefix(path, "/")
}

func seconds(v any, def time.Duration) time.Duration {
	if f, ok := v.(float64); ok && f > 0 {
		return time.Duration(f * float64(time.Second))
	}
	return def
}

func asStrings(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, x := range m {
		if s, ok := x.(string); ok {
			out[k] = s
		}
	}
	return out
}

// recordedHeaderLimit bounds what a step records of an answer's headers
// (names and values, in bytes): the transport reads up to 1 MiB of them
// (provider.MaxResponseHeaderBytes), a bound on memory, not on a record.
// No provider legitimately sends as much; the call still succeeds.
const recordedHeaderLimit = 64 << 10

// flatHeaders is an answer's headers as the step records them: each name
// once, its values joined, made storable. Past recordedHeaderLimit they are
// cut, the same way for the same answer: in sorted name order each header
// that fits in the space left is kept whole; then the first that did not is
// kept cut (its value's start and "…") if the space left holds its name, and
// any other is left out; cut says so. Below the limit nothing changes.
func flatHeaders(h http.Header) (out map[string]any, cut bool) {
	type header struct{ name, value string }
	out = make(map[string]any, len(h))
	// Every answer but a hostile one: no sort. storableText turns a byte
	// into 3 at most (U+FFFD), and values are joined with ", ".
	if 3*headerBytes(h) <= recordedHeaderLimit {
		for k, v := range h {
			out[storableText(k)] = storableText(strings.Join(v, ", "))
		}
		return out, false
	}
	var first *header // the first that did not fit whole
	used := 0
	for _, k := range slices.Sorted(maps.Keys(h)) {
		e := header{storableText(k), storableText(strings.Join(h[k], ", "))}
		if used+len(e.name)+len(e.value) > recordedHeaderLimit {
			if first == nil {
				first = &e
			}
			cut = true
			continue
		}
		out[e.name], used = e.value, used+len(e.name)+len(e.value)
	}
	if first != nil {
		if room := recordedHeaderLimit - used - len(first.name) - len("…"); room > 0 {
			out[first.name] = cutText(first.value, room) + "…"
		}
	}
	return out, cut
}

// headerBytes is the size of h's names and values, each value counted
// with a separator.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		n += len(k)
		for _, v := range vs {
			n += len(v) + len(", ")
		}
	}
	return n
}

// cutText is s's first n bytes or fewer, ending on a whole character.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// decodeBody parses JSON bodies (any +json type), else keeps the text.
// What a provider answers is made storable (see storable): NUL and invalid
// UTF-8 become U+FFFD, JSON nested deeper than maxDepth stays text, and a
// number a float64 would change is kept as its text (exactNumbers);
// sanitized says whether anything had to change.
func decodeBody(resp *provider.Response) (body any, sanitized bool) {
	if len(resp.Body) == 0 {
		return nil, false
	}
	if ct := resp.Header.Get("Content-Type"); strings.Contains(ct, "json") {
		v, inexact, err := decodeJSON(resp.Body)
		if err == nil {
			if out, changed, depth := storable(v); depth <= maxDepth {
				return out, changed || inexact
			}
			text := storableText(string(resp.Body))
			return text, true
		}
	}
	text := storableText(string(resp.Body))
	return text, text != string(resp.Body)
}

// statusText is a status as net/http's Response.Status shows it ("200
// OK"); a code net/http has no text for is the code alone ("299").
func statusText(code int) string {
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text
	}
	return strconv.Itoa(code)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var placeholder = regexp.MustCompile(`\{[A-Za-z0-9_]+\}`)

// decodeJSON decodes a provider's JSON as encoding/json does, except that
// a number a float64 would change (an id of 19 digits, an amount of 17
// significant digits) is kept as its exact text, a string: read as a
// float64 it would reach the ledger, or a comparison, changed by a unit.
// inexact says whether one was.
func decodeJSON(body []byte) (v any, inexact bool, err error) {
	if !jsonenc.MayChangeANumber(body) {
		err = json.Unmarshal(body, &v)
		return v, false, err
	}
	if !json.Valid(body) { // one value and nothing after it, as Unmarshal wants
		return nil, false, errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err = dec.Decode(&v); err != nil {
		return nil, false, err
	}
	v = exactNumbers(v, &inexact)
	return v, inexact, nil
}

// exactNumbers replaces, in v (just decoded: the caller's own), each
// json.Number by its float64 when that holds it exactly, else by its text.
func exactNumbers(v any, inexact *bool) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err == nil && jsonenc.ExactNumber(x) {
			return f
		}
		*inexact = true
		return string(x)
	case map[string]any:
		for k, e := range x {
			x[k] = exactNumbers(e, inexact)
		}
	case []any:
		for i, e := range x {
			x[i] = exactNumbers(e, inexact)
		}
	}
	return v
}
