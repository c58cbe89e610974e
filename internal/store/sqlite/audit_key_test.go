package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/store"
	"flowker/internal/store/sqlite"
)

// A store opened without the chain's key refuses an audit event at once,
// with the transaction it came in: no event is ever sealed unkeyed.
func TestAuditAppendNeedsTheKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	e := &audit.Event{ID: uuid.New(), EventType: audit.WorkflowCreated, Action: "CREATE", Result: "SUCCESS",
		ResourceType: "workflow", ResourceID: uuid.NewString()}
	for _, write := range []func(func(store.Tx) error) error{
		func(fn func(store.Tx) error) error { return s.InTx(ctx, fn) },
		func(fn func(store.Tx) error) error { return s.Batch(ctx, fn) },
	} {
		err := write(func(tx store.Tx) error { return tx.AppendAudit(ctx, e) })
		require.ErrorContains(t, err, "the chain's key is not set")
	}
	events, err := s.ListAudit(ctx, audit.Filter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, events)
}
