package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIsUnavailable: SQLITE_BUSY (another connection holds the write lock
// past busy_timeout) is "retry later"; other errors are not.
func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := "file:" + filepath.Join(t.TempDir(), "busy.db") + "?_pragma=busy_timeout(0)&_pragma=journal_mode(WAL)"
	a, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer a.Close()
	b, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer b.Close()
	holder, err := a.Conn(ctx)
	require.NoError(t, err)
	defer holder.Close()
	_, err = holder.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)

	_, err = b.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.Error(t, err)
	require.True(t, isUnavailable(err), "%v", err)

	_, err = b.ExecContext(ctx, "SELEC 1")
	require.Error(t, err)
	require.False(t, isUnavailable(err), "%v", err)
	require.False(t, isUnavailable(errors.New("other")))
	_, refused := refusedValue(err)
	require.False(t, refused)
}
