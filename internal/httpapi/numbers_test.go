package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// TestNumbersAreKeptAsSent: a JSON number a float64 cannot hold as written
// (an amount in minor units past 2^53) is refused, naming the field, and
// nothing starts: decoded, it would have reached the ledger changed by one
// unit, and two amounts would have had one fingerprint (found by a defect
// hunt). Sent as a string, it reaches the ledger as sent.
func TestNumbersAreKeptAsSent(t *testing.T) {
	t.Parallel()
	env := newFlowEnv(t, nil)
	env.fake.Respond("/ledger", providertest.Response{Body: `{"posted":true}`})
	wf := env.activate([]map[string]any{triggerNode("t"), env.callNode("post", "/ledger", map[string]any{
		"inputMapping": []map[string]any{{"source": "workflow.amount", "target": "amount"}}})},
		[]map[string]any{edge("t", "post")})
	start := func(amount string) response {
		return env.do("POST", "/v1/workflows/"+wf+"/executions?wait=5s",
			`{"inputData":{"amount":`+amount+`}}`, "Idempotency-Key", uuid.NewString())
	}
	refused := env.expect(start("9007199254740993"), http.StatusBadRequest, "FLK-0001")
	require.Contains(t, refused["message"], `"inputData.amount"`)
	require.Contains(t, refused["message"], "9007199254740993")
	env.expect(start("90071992547409.93e2"), http.StatusBadRequest, "FLK-0001")

	done := env.expect(start("1.0000000000000000"), http.StatusOK, "") // walked, and a float64 holds it
	require.Equal(t, "completed", done["status"])
	done = env.expect(start(`"9007199254740993"`), http.StatusOK, "")
	require.Equal(t, "completed", done["status"])
	calls := env.waitCalls("/ledger", 2)
	require.JSONEq(t, `{"amount":1}`, string(calls[0].Body))
	require.True(t, strings.Contains(string(calls[1].Body), `"9007199254740993"`), "%s", calls[1].Body)

	env.activate([]map[string]any{webhookNode("/numbers")}, nil)
	r := env.do("POST", "/v1/webhooks/numbers", `{"order":{"amount":123456789012345678}}`)
	env.expect(r, http.StatusBadRequest, "FLK-0001")
	require.Len(t, env.fake.RequestsTo("/ledger"), 2, "nothing refused was called")
}
