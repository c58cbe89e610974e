package httpapi

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
)

// TestAnswersAreEncodingJSON: every answer's text is what encoding/json
// writes for it, although another encoder writes it (encodeJSON): the
// shapes the API answers with, holding what providers and clients send
// (escapes, invalid UTF-8, numbers beyond 2^53, exponents, negative zero,
// empty and absent values), and a value JSON cannot hold is refused alike.
// (The store writes what it keeps with the same encoder: values.go.)
func TestAnswersAreEncodingJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 5, 10, 11, 12, 345678901, time.FixedZone("BRT", -3*3600))
	done := at.Add(1500 * time.Millisecond)
	tricky := map[string]any{
		"html": "<script>&amp;\u2028\u2029", "bad\xff": "x\xfe\xffy", "ctl": "\t\n\r\"\\/\x01\x1f",
		"big": json.Number("12345678901234567890123"), "neg": json.Number("-0.000001e-300"), "e": 1e21, "small": 1e-7,
		"zero": math.Copysign(0, -1), "tiny": 5e-324, "max": math.MaxFloat64, "int": float64(1 << 53),
		"nested": []any{nil, true, false, []any{}, map[string]any{}, map[string]any{"b": 1.0, "a": 2.0}},
		"raw":    json.RawMessage(`{"b":1,"a":[2,3]}`), "unicode": "ação 💸 \u00e9",
	}
	exec := &flow.Execution{ID: uuid.New(), WorkflowID: uuid.New(), WorkflowRevision: 3, Status: flow.ExecCompleted,
		CurrentStep: 3, TotalSteps: 3, StartedAt: at, CompletedAt: &done, Output: tricky,
		ErrorMessage: "<b>\xff", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	steps := []flow.Step{
		{ExecutionID: exec.ID, Number: 1, NodeID: "tracer", Name: "Tracer", Status: flow.StepCompleted,
			Input: tricky, Output: map[string]any{"decision": "ALLOW"}, Attempts: 2, StartedAt: at, CompletedAt: done,
			CallDetails: map[string]any{"method": "POST", "statusCode": 200.0, "url": "http://127.0.0.1:1/x?a=1&b=<2>"}},
		{ExecutionID: exec.ID, Number: 2, NodeID: "cond", Status: flow.StepFailed, Input: nil, Output: []any{},
			ErrorMessage: "provider answered \"\u2028\"", StartedAt: at, CompletedAt: at},
	}
	workflow := &flow.Workflow{ID: uuid.New(), Status: flow.StatusActive, Revision: 1, CreatedAt: at, UpdatedAt: at.UTC(),
		Definition: flow.Definition{Name: "w <1>", Metadata: tricky,
			Nodes: []flow.Node{{ID: "n1", Type: flow.NodeTrigger, Position: flow.Position{X: -0.5, Y: 1e22}, Data: tricky}},
			Edges: []flow.Edge{{ID: "e1", Source: "n1", Target: "n2", Condition: "a < b && c > d"}}}}
	for _, v := range []any{
		toResultsResponse(&service.Results{Execution: exec, Steps: steps}),
		toExecutionResponse(exec),
		toWorkflowResponse(workflow),
		fiber.Map{"executionId": exec.ID, "workflowId": exec.WorkflowID, "status": exec.Status, "startedAt": at},
		errorBody{Code: "FLK-0001", Title: "Bad <Request>", Message: "field \"a\xff\" & more"},
		[]executionResponse{}, []executionResponse(nil), map[string]any(nil),
	} {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, err := encodeJSON(v)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
	// A malformed json.Number ("0x10") is not among them: segmentio writes
	// it as is where encoding/json refuses it, and none reaches an answer
	// (every json.Number is decoded JSON: requests', providers', stored).
	for _, bad := range []any{math.NaN(), math.Inf(1), math.Inf(-1), json.Number("1e"), json.Number("-")} {
		_, wantErr := json.Marshal(map[string]any{"n": bad})
		_, err := encodeJSON(map[string]any{"n": bad})
		require.Error(t, wantErr)
		require.Error(t, err, "%v", bad)
	}
}
