package storetest

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
)

// runValues: what can be stored is the same on both databases. A NUL
// character (PostgreSQL refuses it, SQLite keeps it) or invalid UTF-8 in a
// text column is refused with store.ErrUnstorable before anything is
// written; any other Unicode is stored and read back exactly.
func runValues(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("UnstorableWorkflow", func(t *testing.T) { t.Parallel(); testUnstorableWorkflow(t, open(t)) })
	t.Run("UnstorableExecution", func(t *testing.T) { t.Parallel(); testUnstorableExecution(t, open(t)) })
	t.Run("UnstorableProgress", func(t *testing.T) { t.Parallel(); testUnstorableProgress(t, open(t)) })
	t.Run("UnstorableOthers", func(t *testing.T) { t.Parallel(); testUnstorableOthers(t, open(t)) })
	t.Run("UnicodeRoundTrip", func(t *testing.T) { t.Parallel(); testUnicodeRoundTrip(t, open(t)) })
}

// requireUnstorable checks err is a 400 ErrUnstorable naming what.
func requireUnstorable(t *testing.T, err error, what string) {
	t.Helper()
	require.ErrorIs(t, err, store.ErrUnstorable)
	require.Equal(t, flow.KindInvalid, flow.KindOf(err))
	require.False(t, store.Transient(err), "a refused value is permanent")
	require.ErrorContains(t, err, what)
}

func testUnstorableWorkflow(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	cases := map[string]func(w *flow.Workflow){
		"workflow name":        func(w *flow.Workflow) { w.Name = "pay\x00ments" },
		"workflow description": func(w *flow.Workflow) { w.Description = "bad \xff\xfe bytes" },
		"workflow metadata":    func(w *flow.Workflow) { w.Metadata = map[string]any{"k\x00ey": "v"} }, // in a map key
		"workflow nodes": func(w *flow.Workflow) {
			w.Nodes[1].Data = map[string]any{"nested": []any{map[string]any{"v": "x\x00"}}}
		},
	}
	for what, spoil := range cases {
		w := Workflow("wf "+what, c.Now())
		spoil(w)
		requireUnstorable(t, s.CreateWorkflow(ctx, w), what)
		_, err := s.GetWorkflow(ctx, w.ID)
		require.ErrorIs(t, err, flow.ErrWorkflowNotFound, "nothing written (%s)", what)
	}
	page, err := s.ListWorkflows(ctx, flow.WorkflowFilter{Page: flow.PageRequest{Limit: 10, SortBy: "name"}})
	require.NoError(t, err)
	require.Empty(t, page.Items)

	// An update is refused the same way and leaves the stored row alone.
	w := Workflow("clean", c.Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))
	spoiled := *w
	spoiled.Name, spoiled.Revision = "clean\x00", 2
	requireUnstorable(t, s.UpdateWorkflow(ctx, &spoiled, 1), "workflow name")
	got, err := s.GetWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, w, got)

	// A filter no row can match finds nothing, on both databases alike.
	page, err = s.ListWorkflows(ctx, flow.WorkflowFilter{Name: "clean\x00",
		Page: flow.PageRequest{Limit: 10, SortBy: "name"}})
	require.NoError(t, err)
	require.Empty(t, page.Items)
	page, err = s.ListWorkflows(ctx, flow.WorkflowFilter{Page: flow.PageRequest{Limit: 10, SortBy: "name",
		After: &flow.Cursor{ID: uuid.NewString(), SortValue: "a\x00", SortBy: "name"}}})
	require.ErrorIs(t, err, flow.ErrInvalidCursor, "%v", page)
}

func testUnstorableExecution(t *testing.T, s store.Store) {
	ctx := context.Background()
	wf := uuid.New()
	cases := []struct {
		what  string
		spoil func(e *flow.Execution)
	}{
		{"execution input", func(e *flow.Execution) { e.Input = map[string]any{"name": "a\x00b"} }},
		{"execution input", func(e *flow.Execution) { e.Input = map[string]any{"\x00": "value"} }}, // a map key
		{"execution input", func(e *flow.Execution) { e.Input = map[string]any{"n": math.NaN()} }},
		{"execution output", func(e *flow.Execution) { e.Output = map[string]any{"list": []any{"\x00"}} }},
		{"idempotency key", func(e *flow.Execution) { e.IdempotencyKey = "key\x00" }},
		{"trigger node id", func(e *flow.Execution) { e.TriggerNodeID = "\xc3" }}, // a rune cut in half
	}
	for _, tc := range cases {
		e := Execution(wf, flow.ExecPending, queueBase, "", time.Time{})
		tc.spoil(e)
		requireUnstorable(t, s.CreateExecution(ctx, e), tc.what)
		_, err := s.EncodeExecution(e) // a start's way: refused before the group commit
		requireUnstorable(t, err, tc.what)
		_, err = s.GetExecution(ctx, e.ID)
		require.ErrorIs(t, err, flow.ErrExecutionNotFound, "nothing written (%s)", tc.what)
	}
	n, err := s.CountUnfinished(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = s.FindExecutionByKey(ctx, wf, "key\x00")
	require.ErrorIs(t, err, flow.ErrExecutionNotFound, "a key no row can hold finds nothing")
}

// testUnstorableProgress: one bad value anywhere in a progress write (the
// execution or any step) leaves the execution and its steps as they were.
func testUnstorableProgress(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := Execution(uuid.New(), flow.ExecRunning, queueBase, "me", queueBase.Add(time.Minute))
	createAll(t, s, e)
	good := flow.Step{ExecutionID: e.ID, Number: 1, NodeID: "trigger-1", Name: "Trigger", Status: flow.StepCompleted,
		StartedAt: queueBase, CompletedAt: queueBase}
	cases := map[string]func(p *flow.Execution, steps []flow.Step){
		"step kyc output": func(_ *flow.Execution, st []flow.Step) { st[1].Output = map[string]any{"body": "\x00"} },
		"step kyc input":  func(_ *flow.Execution, st []flow.Step) { st[1].Input = []any{map[string]any{"a\x00": 1}} },
		"step kyc call details": func(_ *flow.Execution, st []flow.Step) {
			st[1].CallDetails = map[string]any{"body": "x\x00"}
		},
		"step error message":      func(_ *flow.Execution, st []flow.Step) { st[1].ErrorMessage = "provider said \x00" },
		"execution error message": func(p *flow.Execution, _ []flow.Step) { p.ErrorMessage = "bad \xff" },
		"execution output":        func(p *flow.Execution, _ []flow.Step) { p.Output = map[string]any{"k": "\x00"} },
	}
	for what, spoil := range cases {
		p := *e
		p.CurrentStep = 2
		kyc := good
		kyc.Number, kyc.NodeID, kyc.Name = 2, "kyc", "KYC"
		steps := []flow.Step{good, kyc}
		spoil(&p, steps)
		_, err := s.EncodeProgress("me", &p, steps)
		requireUnstorable(t, err, what) // refused before the group commit
		err = s.SaveProgress(ctx, "me", &p, steps, nil)
		requireUnstorable(t, err, what)
		require.Zero(t, getExecution(t, s, e.ID).CurrentStep, "execution unchanged (%s)", what)
		stored, err := s.ListSteps(ctx, e.ID)
		require.NoError(t, err)
		require.Empty(t, stored, "no step written (%s)", what)
	}
	// Inside a group commit the refusal is the caller's own error.
	p := *e
	p.ErrorMessage = "\x00"
	err := s.Batch(ctx, func(tx store.Tx) error { return tx.SaveProgress(ctx, "me", &p, nil, nil) })
	requireUnstorable(t, err, "execution error message")
}

func testUnstorableOthers(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	p := ProviderConfig("prov", "tracer", c.Now())
	p.Config["secret"] = "\x00"
	requireUnstorable(t, s.CreateProviderConfig(ctx, p), "provider configuration config")
	x := ExecutorConfig("exec\x00", c.Now())
	requireUnstorable(t, s.CreateExecutorConfig(ctx, x), "executor configuration name")

	wf := uuid.New()
	requireUnstorable(t, s.ReplaceWebhookRoutes(ctx, wf, []flow.WebhookRoute{{Method: "POST", Path: "/ok", NodeID: "n"},
		{Method: "POST", Path: "/in\x00", NodeID: "n"}}), "webhook path")
	_, err := s.FindWebhookRoute(ctx, "POST", "/ok")
	require.ErrorIs(t, err, flow.ErrWebhookNotFound, "no route of the refused set written")
	_, err = s.FindWebhookRoute(ctx, "POST", "/in\x00")
	require.ErrorIs(t, err, flow.ErrWebhookNotFound)

	requireUnstorable(t, s.SaveWorkflowVersion(ctx, &flow.WorkflowVersion{WorkflowID: wf, Revision: 1,
		Definition: flow.Definition{Name: "v\x00"}, CreatedAt: c.Now()}), "workflow definition")
	_, err = s.GetWorkflowVersion(ctx, wf, 1)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound)

	ev := auditEvent(1)
	ev.RequestID = "req\x00"
	requireUnstorable(t, s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, ev) }), "audit request id")
	ev = auditEvent(2)
	ev.Metadata = map[string]any{"\x00": true}
	requireUnstorable(t, s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, ev) }), "audit metadata")
	// AppendAudit checks with the insert's own encoder (encoding/json's, as
	// hashed): a value only it refuses (a malformed json.Number) is the
	// caller's error there, not a failed commit of its group.
	ev = auditEvent(3)
	ev.Metadata = map[string]any{"n": json.Number("01")}
	var appended error
	err = s.Batch(ctx, func(tx store.Tx) error { appended = tx.AppendAudit(ctx, ev); return nil })
	require.ErrorContains(t, appended, "audit metadata")
	require.NoError(t, err, "nothing refused at the commit")
	events, err := s.ListAudit(ctx, audit.Filter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, events)
	events, err = s.ListAudit(ctx, audit.Filter{Limit: 10, ResourceID: "\x00"})
	require.NoError(t, err)
	require.Empty(t, events)
}

// unicode is text that must come back byte for byte: the replacement
// character itself, astral planes, combining marks, right-to-left, line
// and paragraph separators, other control characters, a literal
// backslash-u-0000 (six characters, not a NUL).
var unicode = []string{"U+FFFD \uFFFD", "emoji 💸🏦", "日本語のテキスト", "e\u0301 combining", "עברית RTL",
	"sep\u2028line\u2029para", "ctrl \x01\x1f\x7f tab\t", `escaped \u0000 text`, `\\u0000`, "zero\u200bwidth"}

func testUnicodeRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewClock()
	for _, text := range unicode {
		w := Workflow(text, c.Now())
		w.Description = text
		w.Metadata = map[string]any{text: text}
		w.Nodes[1].Data = map[string]any{"value": text}
		require.NoError(t, s.CreateWorkflow(ctx, w), "%q", text)
		got, err := s.GetWorkflow(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, w, got, "%q", text)

		e := Execution(w.ID, flow.ExecRunning, queueBase, "me", queueBase.Add(time.Minute))
		e.Input, e.IdempotencyKey = map[string]any{text: []any{text}}, text
		createAll(t, s, e)
		byKey, err := s.FindExecutionByKey(ctx, w.ID, text)
		require.NoError(t, err, "%q", text)
		require.Equal(t, e, byKey, "%q", text)
		st := flow.Step{ExecutionID: e.ID, Number: 1, NodeID: text, Name: text, Status: flow.StepFailed,
			Output: map[string]any{text: text}, ErrorMessage: text, StartedAt: queueBase, CompletedAt: queueBase}
		err = s.SaveProgress(ctx, "me", e, []flow.Step{st}, nil)
		require.NoError(t, err)
		steps, err := s.ListSteps(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, []flow.Step{st}, steps, "%q", text)

		route := flow.WebhookRoute{Method: "POST", Path: "/" + text, WorkflowID: w.ID, NodeID: text}
		require.NoError(t, s.ReplaceWebhookRoutes(ctx, w.ID, []flow.WebhookRoute{route}))
		found, err := s.FindWebhookRoute(ctx, "POST", "/"+text)
		require.NoError(t, err, "%q", text)
		require.Equal(t, &route, found)
	}

	// Invalid UTF-8 inside a JSON value is normalised, not refused: JSON
	// encoding replaces each bad byte with U+FFFD, the same on both.
	e := Execution(uuid.New(), flow.ExecPending, queueBase, "", time.Time{})
	e.Input = map[string]any{"cut\xff": "body \xe2\x82\xac\xe2"} // a bad byte; a euro sign, then a cut one
	createAll(t, s, e)
	require.Equal(t, map[string]any{"cut\uFFFD": "body €\uFFFD"}, getExecution(t, s, e.ID).Input)
}
