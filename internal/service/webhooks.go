package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"maps"
	"net/http"
	"strings"
	"time"

	"flowker/internal/flow"
	"flowker/internal/secret"
	"flowker/internal/store"
)

// webhookRoute is the route a node declares (ok false: not a webhook
// trigger), as it is registered.
func webhookRoute(n *flow.Node) (method, path string, ok bool) {
	if n.Type != flow.NodeTrigger || n.Data["triggerType"] != "webhook" {
		return "", "", false
	}
	method, _ = n.Data["method"].(string)
	path, _ = n.Data["path"].(string)
	return strings.ToUpper(method), flow.NormalizeWebhookPath(path), true
}

// webhookRoutes lists the webhook routes a workflow's triggers declare.
func (s *Service) webhookRoutes(w *flow.Workflow) ([]flow.WebhookRoute, error) {
	var routes []flow.WebhookRoute
	for i := range w.Nodes {
		n := &w.Nodes[i]
		method, path, ok := webhookRoute(n)
		if !ok {
			continue
		}
		r := flow.WebhookRoute{Method: method, Path: path, WorkflowID: w.ID, NodeID: n.ID}
		if tok, _ := n.Data["verify_token"].(string); tok != "" {
			sealed, err := s.box.Seal(map[string]any{"verify_token": tok}, "webhook", secret.Policy{})
			if err != nil {
				return nil, err
			}
			r.VerifyToken, _ = sealed["verify_token"].(string)
		}
		routes = append(routes, r)
	}
	return routes, nil
}

// activateRuntime records what the new active revision runs and claims its
// webhook routes, in the activation's transaction.
func (s *Service) activateRuntime(ctx context.Context, tx store.Tx, w *flow.Workflow) error {
	sealed, err := s.sealed(w)
	if err != nil {
		return err
	}
	if err := tx.SaveWorkflowVersion(ctx, &flow.WorkflowVersion{WorkflowID: w.ID, Revision: w.Revision,
		Definition: sealed.Definition, CreatedAt: w.UpdatedAt}); err != nil {
		return err
	}
	routes, err := s.webhookRoutes(w)
	if err != nil {
		return err
	}
	err = tx.ReplaceWebhookRoutes(ctx, w.ID, routes)
	if errors.Is(err, store.ErrWebhookRouteTaken) {
		return flow.Errorf(flow.KindConflict, "FLK-0360",
			"a webhook route of this workflow is already registered by another active workflow")
	}
	return err
}

// WebhookRequest is an inbound webhook call.
type WebhookRequest struct {
	Method string
	Path   string // as sent: percent-encoded
	Token  string // X-Webhook-Token
	// Body decodes the request's body (nil: none), called once the route
	// and the token passed: the reference's order (404, then 401, then 400
	// for the body).
	Body           func() (map[string]any, error)
	RemoteIP       string
	Headers        map[string]string
	Query          map[string]string
	IdempotencyKey string
	Wait           time.Duration
}

// StartWebhook resolves the route from the database (so every replica
// serves every route), checks the token in constant time, and starts the
// execution at the trigger that matched. The route and the workflow's
// revision are looked up as of the call's arrival (store.WithCatalogView).
//
// First under a guarded view: where the store would ask the database
// whether the catalog changed (PostgreSQL), it takes the catalog as last
// seen and the execution's insert is conditional on it, in the insert's
// round trip. An attempt that failed (the catalog moved, or an answer such
// as 404 or 401 it may have decided on a stale catalog) is served again
// with the catalog's counter read — unless it failed for want of capacity
// (503: the queue full, the database unavailable) or because the caller
// left, which no catalog decides: a retry would only double the work of
// an overloaded server.
func (s *Service) StartWebhook(ctx context.Context, req WebhookRequest) (*StartResult, error) {
	guarded := store.WithGuardedCatalogView(ctx)
	res, err := s.startWebhook(guarded, req)
	_, unverified := store.CatalogViewOf(guarded).Unverified()
	if err != nil && unverified && flow.KindOf(err) != flow.KindUnavailable && ctx.Err() == nil {
		return s.startWebhook(store.WithCatalogView(ctx), req)
	}
	return res, err
}

// startWebhook is one attempt of StartWebhook, under ctx's catalog view.
// It leaves req as it is.
func (s *Service) startWebhook(ctx context.Context, req WebhookRequest) (*StartResult, error) {
	route, err := s.findWebhookRoute(ctx, req.Method, req.Path)
	if err != nil {
		return nil, err
	}
	if route.VerifyToken != "" {
		opened, err := s.box.Open(map[string]any{"verify_token": route.VerifyToken}, "webhook")
		if err != nil {
			return nil, err
		}
		want, _ := opened["verify_token"].(string)
		if subtle.ConstantTimeCompare([]byte(req.Token), []byte(want)) != 1 {
			return nil, flow.ErrWebhookToken
		}
	}
	var body map[string]any
	if req.Body != nil {
		if body, err = req.Body(); err != nil {
			return nil, err
		}
	}
	// Sized for what they get: a map grown entry by entry is copied each
	// time it doubles.
	input := make(map[string]any, len(body)+1) // and _webhook below
	maps.Copy(input, body)
	headers := make(map[string]any, len(req.Headers))
	for k, v := range req.Headers {
		if !sensitiveHeader(k) {
			headers[k] = v
		}
	}
	query := make(map[string]any, len(req.Query))
	for k, v := range req.Query {
		query[k] = v
	}
	// A redelivery of the same call is the same body and query to the same
	// route; its headers and arrival time differ and do not count.
	fingerprint := requestHash(map[string]any{"method": route.Method, "path": route.Path, "query": query,
		"body": input}, route.NodeID) // before _webhook is added to input
	// _webhook describes the call; it replaces any client value of that key.
	// Its path as the reference gives it: without the leading slash.
	input["_webhook"] = map[string]any{"method": route.Method, "path": strings.TrimPrefix(route.Path, "/"),
		"headers": headers, "query": query, "remote_ip": req.RemoteIP, "receivedAt": s.now().Format(time.RFC3339Nano)}
	return s.StartExecution(ctx, StartRequest{WorkflowID: route.WorkflowID, Input: input,
		IdempotencyKey: req.IdempotencyKey, TriggerNodeID: route.NodeID, Wait: req.Wait, Fingerprint: fingerprint})
}

// findWebhookRoute finds the route a call names: its path as sent, as the
// reference matches it, else percent-decoded — a route registered as text
// ("/café", "/a b") is called encoded ("caf%C3%A9", "a%20b").
func (s *Service) findWebhookRoute(ctx context.Context, method, sent string) (*flow.WebhookRoute, error) {
	route, err := s.store.FindWebhookRoute(ctx, method, flow.NormalizeWebhookPath(sent))
	if flow.KindOf(err) != flow.KindNotFound {
		return route, err
	}
	if decoded := flow.DecodedWebhookPath(sent); decoded != "" && decoded != sent {
		return s.store.FindWebhookRoute(ctx, method, decoded)
	}
	return route, err
}

// sensitiveHeader keeps credentials and cookies out of stored input.
func sensitiveHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Webhook-Token":
		return true
	}
	return secret.IsSecretName(name)
}
