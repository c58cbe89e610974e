package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/catalog"
	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
)

// The kyc-aml-review template end to end against a fake provider: the KYC
// service gets a callback URL and answers on it, the grey zone goes to a
// four-eyes review, and two approvals post to the ledger once.
func TestKYCAMLReviewTemplate(t *testing.T) {
	env := newTestEnv(t, nil)
	tmpl, ok := catalog.Default().Template("kyc-aml-review")
	require.True(t, ok)
	pc := env.pc.String()
	params := map[string]any{"workflowName": "kyc", "kycProviderConfigId": pc, "amlProviderConfigId": pc, "ledgerProviderConfigId": pc}
	require.NoError(t, tmpl.ValidateParams(params))
	def, err := tmpl.Build(params)
	require.NoError(t, err)
	env.fake.Respond("/aml/screenings", providertest.Response{Body: `{"riskScore": 50}`})
	env.fake.Respond("/ledger/postings", providertest.Response{Body: `{"posting": "p-1"}`})
	wf := env.workflow(def.Nodes, def.Edges...)

	now := env.eng.now()
	until := env.eng.LeaseUntil(now)
	ex := &flow.Execution{ID: uuid.New(), WorkflowID: wf, WorkflowRevision: 1, TriggerNodeID: "start",
		Status: flow.ExecRunning, Input: map[string]any{"customer": "c-42", "amount": 900.0, "currency": "EUR"},
		LeaseOwner: env.eng.Owner(), LeaseExpiresAt: &until, StartedAt: now, UpdatedAt: now}
	require.NoError(t, env.raw.CreateExecution(context.Background(), ex))
	require.True(t, env.eng.Reserve())
	env.eng.DispatchNew(ex, nil)
	env.awaitStatus(ex.ID, flow.ExecWaiting) // for the KYC callback

	reqs := env.fake.RequestsTo("/kyc/checks")
	require.Len(t, reqs, 1)
	var sent map[string]any
	require.NoError(t, json.Unmarshal(reqs[0].Body, &sent))
	url, _ := sent["callbackUrl"].(string)
	require.True(t, strings.HasPrefix(url, "http://localhost:4021/v1/callbacks/"), url)
	token := strings.TrimPrefix(url, "http://localhost:4021/v1/callbacks/")
	require.True(t, env.eng.box.CallbackFor(token, ex.ID, "kyc-result"))
	require.False(t, env.eng.box.CallbackFor(token, uuid.New(), "kyc-result"))

	env.deliver(ex.ID, "kyc-result", map[string]any{"status": "clear"})
	env.awaitStatus(ex.ID, flow.ExecWaiting) // for the review
	ws, err := env.raw.ListWaits(context.Background(), ex.ID)
	require.NoError(t, err)
	var review flow.Wait
	for _, w := range ws { // same created time under the test clock: find it by kind
		if w.Kind == flow.NodeReview {
			review = w
		}
	}
	require.Equal(t, flow.NodeReview, review.Kind)
	require.Equal(t, map[string]any{"customer": "c-42", "amount": 900.0, "currency": "EUR", "kycStatus": "clear",
		"riskScore": 50.0}, review.Review.Context)

	env.decide(ex.ID, "alice", "approve")
	env.awaitStatus(ex.ID, flow.ExecWaiting) // one approval of two: still waiting
	require.Empty(t, env.fake.RequestsTo("/ledger/postings"))
	env.decide(ex.ID, "bob", "approve")
	done, _ := env.await(ex.ID)
	require.Equal(t, flow.ExecCompleted, done.Status, done.ErrorMessage)
	require.Equal(t, map[string]any{"decision": "approved", "reason": "posted to the ledger"}, done.Output)
	require.Len(t, env.fake.RequestsTo("/ledger/postings"), 1)
	require.Len(t, env.fake.RequestsTo("/aml/screenings"), 1, "no call repeats across the waits")
	require.Len(t, env.fake.RequestsTo("/kyc/checks"), 1)
	require.Subset(t, auditTypes(t, env.raw), []string{"WAIT_OPENED"})
}
