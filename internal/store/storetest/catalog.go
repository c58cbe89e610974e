package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// CatalogFixture stores what an execution looks up: a workflow, a
// provider configuration, and a POST route at path to the workflow.
func CatalogFixture(t testing.TB, s store.Store, name, path string) (*flow.Workflow, *flow.ProviderConfig) {
	t.Helper()
	ctx := context.Background()
	c := NewClock()
	w := Workflow(name, c.Now())
	p := ProviderConfig(name, "tracer", c.Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))
	require.NoError(t, s.CreateProviderConfig(ctx, p))
	require.NoError(t, s.ReplaceWebhookRoutes(ctx, w.ID, []flow.WebhookRoute{{Method: "POST", Path: path, NodeID: "t"}}))
	return w, p
}

// testCatalogLookupsSeeChanges: the lookups every execution makes (a
// workflow's revision, a provider configuration's, a webhook route) see a
// change as soon as the write that made it returns, however it was made
// (alone, in a transaction, in a group commit), never one whose
// transaction has not committed or was rolled back; each is asked once
// before the change, so a store that keeps answers has one to keep.
func testCatalogLookupsSeeChanges(t *testing.T, s store.Store) {
	ctx := context.Background()
	w, p := CatalogFixture(t, s, "catalog", "/a")
	workflowRev := func() int {
		t.Helper()
		rev, err := s.WorkflowRevision(ctx, w.ID)
		require.NoError(t, err)
		return rev
	}
	configRev := func() int {
		t.Helper()
		rev, err := s.ProviderConfigRevision(ctx, p.ID)
		require.NoError(t, err)
		return rev
	}
	route := func(path string) error {
		t.Helper()
		r, err := s.FindWebhookRoute(ctx, "POST", path)
		if err == nil {
			require.Equal(t, w.ID, r.WorkflowID)
		}
		return err
	}
	edit := func(tx store.Tx) error {
		w.Revision++
		w.Description = fmt.Sprintf("revision %d", w.Revision)
		return tx.UpdateWorkflow(ctx, w, w.Revision-1)
	}

	require.Equal(t, 1, workflowRev())
	require.NoError(t, edit(s)) // alone
	require.Equal(t, 2, workflowRev())

	require.NoError(t, route("/a"))
	blocked, release := make(chan struct{}), make(chan struct{})
	go func() { // a transaction that changes all three, seen only once it commits
		defer close(blocked)
		assert.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
			if err := edit(tx); err != nil {
				return err
			}
			p.Revision, p.Description = 2, "edited"
			if err := tx.UpdateProviderConfig(ctx, p, 1); err != nil {
				return err
			}
			if err := tx.ReplaceWebhookRoutes(ctx, w.ID, []flow.WebhookRoute{{Method: "POST", Path: "/b", NodeID: "t"}}); err != nil {
				return err
			}
			blocked <- struct{}{}
			<-release
			return nil
		}))
	}()
	<-blocked
	require.Equal(t, 2, workflowRev(), "not committed yet")
	require.Equal(t, 1, configRev())
	require.NoError(t, route("/a"))
	close(release)
	<-blocked
	require.Equal(t, 3, workflowRev())
	require.Equal(t, 2, configRev())
	require.ErrorIs(t, route("/a"), flow.ErrWebhookNotFound)
	require.NoError(t, route("/b"))

	refused := errors.New("refused")
	err := s.InTx(ctx, func(tx store.Tx) error { // rolled back: nothing to see
		if err := edit(tx); err != nil {
			return err
		}
		if err := tx.ReplaceWebhookRoutes(ctx, w.ID, nil); err != nil {
			return err
		}
		return refused
	})
	require.ErrorIs(t, err, refused)
	w.Revision--
	require.Equal(t, 3, workflowRev())
	require.NoError(t, route("/b"))

	require.NoError(t, s.Batch(ctx, edit)) // group-committed
	require.Equal(t, 4, workflowRev())

	require.NoError(t, route("/b"))
	require.NoError(t, s.ReplaceWebhookRoutes(ctx, w.ID, nil)) // routes alone
	require.ErrorIs(t, route("/b"), flow.ErrWebhookNotFound)
	require.Equal(t, 2, configRev()) // deletes, each after a lookup
	require.NoError(t, s.DeleteProviderConfig(ctx, p.ID, 2))
	_, err = s.ProviderConfigRevision(ctx, p.ID)
	require.ErrorIs(t, err, flow.ErrProviderConfigNotFound)
	require.Equal(t, 4, workflowRev())
	require.NoError(t, s.DeleteWorkflow(ctx, w.ID, 4))
	_, err = s.WorkflowRevision(ctx, w.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound)
}

// testCatalogLookupsUnderEdits: lookups from many goroutines while a
// workflow is edited, in transactions and in group commits: a lookup
// begun after an edit returned sees that edit or a later one, never an
// earlier revision.
func testCatalogLookupsUnderEdits(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := Workflow("catalog-under-edits", NewClock().Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))
	var committed atomic.Int64
	committed.Store(1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				least := committed.Load()
				rev, err := s.WorkflowRevision(ctx, w.ID)
				if ctx.Err() != nil {
					return
				}
				if !assert.NoError(t, err) || !assert.GreaterOrEqual(t, int64(rev), least, "a lookup begun after revision %d returned", least) {
					cancel()
					return
				}
			}
		})
	}
	for rev := 2; rev <= 60 && ctx.Err() == nil; rev++ {
		w.Revision, w.Description = rev, fmt.Sprintf("edit %d", rev)
		edit := func(tx store.Tx) error { return tx.UpdateWorkflow(ctx, w, rev-1) }
		if rev%2 == 0 {
			require.NoError(t, s.InTx(ctx, edit))
		} else {
			require.NoError(t, s.Batch(ctx, edit))
		}
		committed.Store(int64(rev))
	}
}
