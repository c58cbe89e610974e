package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "FULL")
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

// TestReopen: migrations are idempotent and data survives a restart.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "flowker.db")
	s, err := sqlite.Open(ctx, path, "FULL")
	require.NoError(t, err)
	w := storetest.Workflow("persisted", storetest.NewClock().Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))
	require.NoError(t, s.Close())

	s, err = sqlite.Open(ctx, path, "NORMAL")
	require.NoError(t, err)
	defer s.Close()
	got, err := s.GetWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, w.Name, got.Name)
}
