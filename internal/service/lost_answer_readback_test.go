package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
)

// lateCommit is a store whose next Batch is answered "outcome unknown"
// while its COMMIT is still on its way: the statements commit only after
// the first read that follows (PostgreSQL whose COMMIT is stuck in a
// WAL flush that a read does not wait for, or still in flight on a
// dropped connection). A read then finds nothing, and the write lands.
type lateCommit struct {
	store.Store
	mu      sync.Mutex
	armed   bool
	pending func(store.Tx) error
}

func (l *lateCommit) Batch(ctx context.Context, fn func(store.Tx) error) error {
	l.mu.Lock()
	if l.armed {
		l.armed, l.pending = false, fn
		l.mu.Unlock()
		return store.OutcomeUnknown(errors.New("connection reset by peer"))
	}
	l.mu.Unlock()
	return l.Store.Batch(ctx, fn)
}

func (l *lateCommit) GetExecution(ctx context.Context, id uuid.UUID) (*flow.Execution, error) {
	ex, err := l.Store.GetExecution(ctx, id)
	l.mu.Lock()
	fn := l.pending
	l.pending = nil
	l.mu.Unlock()
	if fn != nil { // the COMMIT lands now, after the read-back
		if berr := l.Store.Batch(context.Background(), fn); berr != nil {
			return nil, berr
		}
	}
	return ex, err
}

// A start whose COMMIT answer was lost is read back; finding nothing, it
// was answered 503 FLK-0012 with Retry-After, "nothing started: a retry is
// safe". A read that does not see the row is no proof the COMMIT will not
// land: here it does, after the read, so a webhook sender without an
// Idempotency-Key that retried as told started the transaction twice
// (found by a review). Not seen, the outcome is unknown: FLK-0014.
func TestLostStartNotSeenIsNoProof(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lc := &lateCommit{Store: openSQLite(t)}
	s := newTestService(t, lc, service.WithDispatcher(&dispatches{}))
	req, _ := startReplayable(ctx, t, s)
	req.IdempotencyKey = "" // a webhook call without a key

	lc.mu.Lock()
	lc.armed = true
	lc.mu.Unlock()
	_, err := s.StartExecution(ctx, req)
	require.Error(t, err)
	require.ErrorIs(t, err, &flow.Error{Code: flow.CodeOutcomeUnknown}, "not seen: unknown, not safe to retry")
	page, err := lc.ListExecutions(ctx, flow.ExecutionFilter{WorkflowID: req.WorkflowID,
		Page: flow.PageRequest{Limit: 100, SortBy: "startedAt"}})
	require.NoError(t, err)
	require.Len(t, page.Items, 2, "it did land, after the read")
}

// Routes one call could reach both are one route (flow.WebhookPathsMeet):
// a call is matched as sent, then percent-decoded and normalised — its
// outer slashes trimmed. "/a%2F" decodes to "/a/", which the lookup
// normalises to "/a": a call to /a%2F reaches the active "/a". The rule
// compared the decoded path without that normalisation, so "/a%2F" was
// activated for another workflow, which took those calls (found by a
// review). It is refused (FLK-0360).
func TestRoutesMeetAfterNormalisation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestService(t, openSQLite(t), service.WithDispatcher(acceptAll{}))
	activate := func(name, path string) (uuid.UUID, error) {
		w, err := s.CreateWorkflow(ctx, flow.Definition{Name: name, Nodes: []flow.Node{{ID: "hook",
			Type: flow.NodeTrigger, Data: map[string]any{"triggerType": "webhook", "method": "POST", "path": path}}}})
		require.NoError(t, err)
		_, err = s.ActivateWorkflow(ctx, w.ID)
		return w.ID, err
	}
	a, err := activate("a", "/a")
	require.NoError(t, err)
	call := func() uuid.UUID {
		res, err := s.StartWebhook(ctx, service.WebhookRequest{Method: "POST", Path: "/a%2F"})
		require.NoError(t, err)
		return res.Execution.WorkflowID
	}
	require.Equal(t, a, call(), "a call to /a%2F reaches the route /a")
	_, err = activate("b", "/a%2F")
	require.ErrorIs(t, err, &flow.Error{Code: "FLK-0360"})
	require.Equal(t, a, call())
}
