package catalog

import (
	"fmt"

	"flowker/internal/flow"
)

const (
	kycAMLReviewID      = "kyc-aml-review"
	kycAMLReviewVersion = "v1"
)

// kycAMLReviewTemplate: KYC check answered by callback → AML screening →
// risk bands → a four-eyes review for the grey zone → ledger posting
// (docs/waiting.md).
func kycAMLReviewTemplate() *Template {
	return &Template{
		ID:   kycAMLReviewID,
		Name: "KYC by callback + AML screening + four-eyes review + ledger posting",
		Description: "Starts a KYC check that answers on a callback, screens the transaction for AML, posts low-risk " +
			"transactions, rejects high-risk ones, and sends the grey zone to a review two analysts must approve",
		Version:     kycAMLReviewVersion,
		Category:    "Compliance",
		ParamSchema: schemaFile("templates/kyc-aml-review.json"),
		ProviderParams: []ProviderParam{
			{Param: "kycProviderConfigId", ProviderID: providerHTTP},
			{Param: "amlProviderConfigId", ProviderID: providerHTTP},
			{Param: "ledgerProviderConfigId", ProviderID: providerHTTP},
		},
		build: buildKYCAMLReview,
	}
}

func buildKYCAMLReview(p map[string]any) (flow.Definition, error) {
	var ids [4]string
	for i, name := range []string{"workflowName", "kycProviderConfigId", "amlProviderConfigId", "ledgerProviderConfigId"} {
		var err error
		if ids[i], err = requiredString(p, name); err != nil {
			return flow.Definition{}, err
		}
	}
	description, _ := p["workflowDescription"].(string)
	low, _ := p["lowRiskBelow"].(float64)
	high, _ := p["highRiskFrom"].(float64)
	call := func(config, path string, m []any) map[string]any {
		return map[string]any{"executorId": "http.request", "providerConfigId": config, "method": "POST", "path": path,
			"inputMapping": m}
	}
	review := map[string]any{
		"title":             "Grey-zone AML risk: approve the posting?",
		"instructions":      "Check the customer, the KYC result and the AML score. Two different analysts must approve; one rejection rejects.",
		"context":           mappings("workflow.customer", "customer", "workflow.amount", "amount", "workflow.currency", "currency", "kyc-result.status", "kycStatus", "aml-screening.body.riskScore", "riskScore"),
		"decisions":         []any{"approve", "reject"},
		"requiredApprovals": float64(2),
		"deadline":          p["reviewDeadline"],
		"defaultDecision":   "reject",
	}
	if g, _ := p["reviewGroup"].(string); g != "" {
		review["group"] = g
	}
	node := func(id string, typ flow.NodeType, name string, y float64, data map[string]any) flow.Node {
		return flow.Node{ID: id, Type: typ, Name: name, Position: flow.Position{X: 250, Y: y}, Data: data}
	}
	result := func(decision, reason string) map[string]any {
		return map[string]any{"actionType": "set_output", "output": map[string]any{"decision": decision, "reason": reason}}
	}
	nodes := []flow.Node{
		node("start", flow.NodeTrigger, "Start", 0, nil),
		node("kyc-request", flow.NodeExecutor, "Request KYC check", 120, call(ids[1], "/kyc/checks",
			mappings("workflow.customer", "customer", "execution.callbacks.kyc-result", "callbackUrl"))),
		node("kyc-result", flow.NodeWaitForCallback, "KYC result (callback)", 240,
			map[string]any{"timeout": p["kycTimeout"]}),
		node("aml-screening", flow.NodeExecutor, "AML screening", 360, call(ids[2], "/aml/screenings",
			mappings("workflow.customer", "customer", "workflow.amount", "amount", "workflow.currency", "currency"))),
		node("low-risk", flow.NodeConditional, "Low risk?", 480,
			map[string]any{"condition": fmt.Sprintf("aml-screening.body.riskScore < %v", low)}),
		node("grey-zone", flow.NodeConditional, "Grey zone?", 600,
			map[string]any{"condition": fmt.Sprintf("aml-screening.body.riskScore < %v", high)}),
		node("analyst-review", flow.NodeReview, "Four-eyes review", 720, review),
		node("ledger-posting", flow.NodeExecutor, "Post to the ledger", 840, call(ids[3], "/ledger/postings",
			mappings("workflow.customer", "customer", "workflow.amount", "amount", "workflow.currency", "currency"))),
		node("approved", flow.NodeAction, "Approved", 960, result("approved", "posted to the ledger")),
		node("rejected", flow.NodeAction, "Rejected", 960, result("rejected", "KYC timed out, AML risk too high or the review rejected it")),
	}
	nodes[len(nodes)-1].Position.X = 500
	edge := func(from, to, handle, label string) flow.Edge {
		return flow.Edge{ID: from + "-to-" + to, Source: from, Target: to, SourceHandle: handle, Label: label}
	}
	edges := []flow.Edge{
		edge("start", "kyc-request", "", ""),
		edge("kyc-request", "kyc-result", "", ""),
		edge("kyc-result", "aml-screening", "", "KYC answered"),
		edge("kyc-result", "rejected", flow.TimeoutHandle, "No KYC answer"),
		edge("aml-screening", "low-risk", "", ""),
		edge("low-risk", "ledger-posting", "true", "Low risk"),
		edge("low-risk", "grey-zone", "false", ""),
		edge("grey-zone", "analyst-review", "true", "Grey zone"),
		edge("grey-zone", "rejected", "false", "High risk"),
		edge("analyst-review", "ledger-posting", flow.ApproveDecision, "Approved by two analysts"),
		edge("analyst-review", "rejected", "reject", "Rejected"),
		edge("ledger-posting", "approved", "", ""),
	}
	return flow.Definition{Name: ids[0], Description: description, Nodes: nodes, Edges: edges,
		Metadata: map[string]any{"templateId": kycAMLReviewID, "templateVersion": kycAMLReviewVersion}}, nil
}
