package service

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/plan"
	"flowker/internal/provider"
	"flowker/internal/store"
)

// Codes of executor-node checks (the reference's, plus ours for
// executor-configuration nodes, which the reference never ran).
const (
	codeInvalidExecutorNode = "WORKFLOW_INVALID_EXECUTOR_CONFIG"
	codeProviderConfigRef   = "FLK-0150"
	codeProviderMismatch    = "FLK-0151"
	codeExecutorConfigRef   = "FLK-0152"
	codeExecutorEndpoint    = "FLK-0153"
)

// checkWorkflowNodes validates executor and trigger nodes against the
// catalog and the stored configurations they reference. At save the
// references must exist (provider configurations active, as the reference
// requires); at activation every referenced configuration must be active.
func (s *Service) checkWorkflowNodes(ctx context.Context, tx store.Tx, w *flow.Workflow, activating bool) error {
	var routes []flow.WebhookRoute // declared so far (NodeID: the node declaring it)
	for _, n := range w.Nodes {
		var err error
		switch n.Type {
		case flow.NodeExecutor:
			err = s.checkExecutorNode(ctx, tx, n, activating)
		case flow.NodeTrigger:
			err = s.checkTriggerNode(n)
		}
		if err != nil {
			return err
		}
		if method, path, ok := webhookRoute(&n); ok {
			for _, other := range routes { // else activation finds its own route taken
				if other.Method == method && flow.WebhookPathsMeet(other.Path, path) {
					return flow.Invalidf("FLK-0211", "nodes %q and %q declare the same webhook route %s %s (a call to one could reach the other)",
						other.NodeID, n.ID, method, path)
				}
			}
			routes = append(routes, flow.WebhookRoute{Method: method, Path: path, NodeID: n.ID})
		}
	}
	_, err := plan.Compile(w.Definition) // conditions and mappings: FLK-0105, FLK-0140..0143
	return err
}

// triggerSelectors are trigger-node data keys that name the trigger rather
// than configure it, so they are not part of its schema. The reference reads
// triggerType only; its clients also send triggerId (the catalog trigger's
// id), which it stores and ignores.
var triggerSelectors = []string{"triggerType", "triggerId"}

// webhookKeys configure a webhook and nothing else.
var webhookKeys = []string{"path", "method", "verify_token"}

func (s *Service) checkTriggerNode(n flow.Node) error {
	raw := n.Data["triggerType"]
	kind, _ := raw.(string)
	if raw == nil || raw == "" {
		// No triggerType: the workflow starts by API only, as in the
		// reference (a triggerId alone, or no data). A webhook's own keys
		// without it would silently register no route (the reference's
		// §9.22): refused.
		for _, k := range webhookKeys {
			if _, ok := n.Data[k]; ok {
				return flow.Invalidf("FLK-0211",
					"node %q: %s is set but triggerType is missing: add \"triggerType\": \"webhook\" to register the webhook, or remove %s to start the workflow by API only",
					n.ID, k, strings.Join(webhookKeys, ", "))
			}
		}
		return nil
	}
	t, ok := s.catalog.Trigger(kind)
	if !ok { // a reference in the body: 400 naming the node, not the catalog route's 404
		return flow.Invalidf("FLK-0211", "node %q: unknown triggerType %s: must be one of %s",
			n.ID, quoteJSON(raw), strings.Join(s.triggerIDs(), ", "))
	}
	data := maps.Clone(n.Data)
	for _, k := range triggerSelectors {
		delete(data, k)
	}
	if kind == "webhook" {
		// Checked as the route will be registered: the reference upper-cases
		// the method and adds a missing leading slash to the path.
		if m, ok := data["method"].(string); ok {
			data["method"] = strings.ToUpper(m)
		}
		if p, ok := data["path"].(string); ok && p != "" {
			data["path"] = flow.NormalizeWebhookPath(p)
		}
	}
	if err := t.ValidateData(data); err != nil {
		return flow.Invalidf("FLK-0211", "node %q: invalid %s trigger config: %v", n.ID, kind, err)
	}
	return nil
}

func (s *Service) checkExecutorNode(ctx context.Context, tx store.Tx, n flow.Node, activating bool) error {
	if err := checkNodeHeaders(n); err != nil {
		return err
	}
	if ref, ok := n.Data["executorConfigId"]; ok {
		return s.checkExecutorConfigNode(ctx, tx, n, ref, activating)
	}
	execID, _ := n.Data["executorId"].(string)
	if execID == "" {
		return flow.Invalidf(codeInvalidExecutorNode, "node %q: executorId (or executorConfigId) is required", n.ID)
	}
	ex, ok := s.catalog.Executor(execID)
	if !ok { // a reference in the body: 400 naming the node (the reference: 404)
		return flow.Invalidf("FLK-0104", "node %q: executorId: referenced executor not found: %q", n.ID, execID)
	}
	pcID, err := nodeUUID(n, "providerConfigId", codeProviderConfigRef)
	if err != nil {
		return err
	}
	data := maps.Clone(n.Data)
	for _, k := range plan.EngineKeys {
		delete(data, k)
	}
	if len(data) > 0 { // purely declarative nodes (all input mapped) have nothing to check yet
		if err := ex.ValidateData(data); err != nil {
			return flow.Invalidf(codeInvalidExecutorNode, "node %q: invalid executor config: %v", n.ID, err)
		}
	}
	pc, err := tx.GetProviderConfig(ctx, pcID)
	if flow.KindOf(err) == flow.KindNotFound {
		return flow.Invalidf(codeProviderConfigRef, "node %q: provider configuration %s not found", n.ID, pcID)
	} else if err != nil {
		return err
	}
	if pc.Status != flow.ConfigActive {
		return flow.Invalidf(codeProviderConfigRef, "node %q: provider configuration %s is not active (status: %s)",
			n.ID, pcID, pc.Status)
	}
	if pc.ProviderID != ex.ProviderID {
		return flow.Invalidf(codeProviderMismatch,
			"node %q: provider configuration %s belongs to provider %q but executor %s belongs to provider %q",
			n.ID, pcID, pc.ProviderID, ex.ID, ex.ProviderID)
	}
	return nil
}

func (s *Service) checkExecutorConfigNode(ctx context.Context, tx store.Tx, n flow.Node, _ any, activating bool) error {
	id, err := nodeUUID(n, "executorConfigId", codeExecutorConfigRef)
	if err != nil {
		return err
	}
	endpoint, _ := n.Data["endpointName"].(string)
	if endpoint == "" {
		return flow.Invalidf(codeInvalidExecutorNode, "node %q: endpointName is required with executorConfigId", n.ID)
	}
	e, err := tx.GetExecutorConfig(ctx, id)
	if flow.KindOf(err) == flow.KindNotFound {
		return flow.Invalidf(codeExecutorConfigRef, "node %q: executor configuration %s not found", n.ID, id)
	} else if err != nil {
		return err
	}
	if activating && e.Status != flow.ConfigActive {
		return flow.Invalidf(codeExecutorConfigRef, "node %q: executor configuration %s is not active (status: %s)",
			n.ID, id, e.Status)
	}
	if _, ok := e.Endpoint(endpoint); !ok {
		return flow.Invalidf(codeExecutorEndpoint, "node %q: executor configuration %s has no endpoint %q",
			n.ID, id, endpoint)
	}
	return nil
}

// nodeUUID reads a required UUID field of node data.
func nodeUUID(n flow.Node, key, code string) (uuid.UUID, error) {
	raw, _ := n.Data[key].(string)
	if raw == "" {
		return uuid.Nil, flow.Invalidf(code, "node %q: %s is required for executor nodes", n.ID, key)
	}
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, flow.Invalidf(code, "node %q: %s is not a valid UUID: %s", n.ID, key, raw)
	}
	return id, nil
}

// triggerIDs lists the catalog's trigger ids, for messages.
func (s *Service) triggerIDs() []string {
	ts := s.catalog.Triggers()
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}

// quoteJSON renders a decoded JSON value for a message.
func quoteJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// checkNodeHeaders refuses a node's headers that could never be sent (a
// CR or LF in a value, a space in a name): stored, every run failed.
func checkNodeHeaders(n flow.Node) error {
	raw, _ := n.Data["headers"].(map[string]any)
	h := make(http.Header, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok {
			h[k] = []string{s}
		}
	}
	if err := provider.CheckHeaders(h); err != nil {
		return flow.Invalidf(codeInvalidExecutorNode, "node %q: headers: %v", n.ID, err)
	}
	return nil
}
