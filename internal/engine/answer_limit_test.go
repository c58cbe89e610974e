package engine

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
)

// A provider answer larger than the response limit (1 MiB) fails its
// step: it was cut, the cut JSON kept as text, the mapping found no field,
// and the step was recorded completed — a fraud provider's REJECT with a
// long evidence field read as no decision, and the workflow below approved
// the transaction (found by a defect hunt).
func TestAnswerOverTheLimitFailsTheStep(t *testing.T) {
	env := newTestEnv(t, nil)
	big := `{"decision":"REJECT","evidence":"` + strings.Repeat("x", 1<<20) + `"}` // a little over 1 MiB
	env.fake.Respond("/fraud", providertest.Response{Body: big})
	wf := env.workflow([]flow.Node{trig("t"),
		env.callNode("fraud", "/fraud", map[string]any{"outputMapping": mapping("body.decision", "decision")}),
		cond("rejected", `fraud.decision == "REJECT"`),
		output("reject", map[string]any{"decision": "REJECT"}), output("approve", map[string]any{"decision": "APPROVE"})},
		link("t", "fraud"), link("fraud", "rejected"), link("rejected", "reject", "true"), link("rejected", "approve", "false"))
	ex, steps := env.await(env.start(wf, nil))
	require.Equal(t, flow.ExecFailed, ex.Status, "ended with %v", ex.Output)
	require.Contains(t, ex.ErrorMessage, "over the response limit")
	require.Len(t, steps, 1)
	require.Equal(t, flow.StepFailed, steps[0].Status)
	require.Equal(t, true, steps[0].CallDetails["responseTruncated"])
	kept, _ := steps[0].CallDetails["responseBody"].(string)
	require.True(t, strings.HasPrefix(kept, `{"decision":"REJECT"`) && len(kept) < 4096,
		"its first 2 KiB kept, as a failed answer's: %.40q…", kept)
	require.Len(t, env.fake.RequestsTo("/fraud"), 1, "not retried: the same answer would come back")
}

// An answer over the headers' cap (64 KiB) fails its step too, without a
// retry: the provider answered, so it received the call and may have acted
// on it — a ledger's POST sent again is a second posting (found by a
// review: it was retried as a transport error).
func TestAnswerOverTheHeadersCapFailsTheStep(t *testing.T) {
	env := newTestEnv(t, nil)
	env.fake.Respond("/post", providertest.Response{Body: `{"posted":true}`,
		Header: http.Header{"X-Trace": {strings.Repeat("t", 100<<10)}}})
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("post", "/post", nil)}, link("t", "post"))
	id := env.start(wf, nil)
	var ex *flow.Execution
	require.Eventually(t, func() bool { // the retry's backoff runs on the fake clock
		env.clock.Advance(time.Second)
		got, err := env.raw.GetExecution(context.Background(), id)
		ex = got
		return err == nil && got.Status.Terminal()
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Contains(t, ex.ErrorMessage, "provider answer unreadable")
	require.Contains(t, ex.ErrorMessage, "headers exceeded")
	require.Len(t, env.fake.RequestsTo("/post"), 1,
		"not sent again: it answered, so it may have posted, and would answer the same")
}
