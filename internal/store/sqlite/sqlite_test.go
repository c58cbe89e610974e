package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
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

func TestAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(ctx, path, "NORMAL")
	require.NoError(t, err)
	defer s.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer raw.Close()
	// SQLite has one writer per file, so the "second process" is the same store.
	storetest.RunAudit(t, s, s, func(t *testing.T, seq int64, value string) {
		for _, q := range []string{`DROP TRIGGER audit_events_no_update`,
			`UPDATE audit_events SET resource_id = '` + value + `' WHERE seq = ` + strconv.FormatInt(seq, 10)} {
			_, err := raw.ExecContext(ctx, q)
			require.NoError(t, err)
		}
	}, raw)
}
