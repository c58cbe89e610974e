package sqlite_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// walFiles reads the database file and its WAL.
func walFiles(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if !os.IsNotExist(err) {
			require.NoError(t, err)
		}
		all = append(all, b...)
	}
	return all
}

func openScrubbed(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(context.Background(), path, "FULL")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// TestDeletedExecutionsLeaveTheWAL: retention deletes finished executions,
// whose input is sealed; once the transaction deleting them has ended, the
// WAL is checkpointed and truncated, so their old rows' bytes are in
// neither file (docs/security.md, "At rest"). Without the scrub, the WAL
// keeps the frames that wrote them.
func TestDeletedExecutionsLeaveTheWAL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openScrubbed(t)
	const marker = "enc:v1:zq-sealed-input-marker-31415"
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := storetest.Execution(uuid.New(), flow.ExecCompleted, now, "", now)
	e.Input = map[string]any{"card": marker}
	require.NoError(t, s.CreateExecution(ctx, e))
	require.True(t, bytes.Contains(walFiles(t, path), []byte(marker)), "stored")
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		n, err := tx.DeleteExecutions(ctx, []uuid.UUID{e.ID})
		require.Equal(t, 1, n)
		return err
	}))
	require.False(t, bytes.Contains(walFiles(t, path), []byte(marker)),
		"a deleted execution's input lingers in the database or the WAL")
}

// TestReplacedSealedValuesLeaveTheWAL: the same for every other table
// holding sealed values, written in a transaction or not: an executor
// configuration's authentication (not in the catalog cache, so not marked
// by a catalog write), and a workflow's webhook routes (their tokens).
func TestReplacedSealedValuesLeaveTheWAL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, inTx := range []bool{false, true} {
		s, path := openScrubbed(t)
		write := func(fn func(tx store.Tx) error) {
			if inTx {
				require.NoError(t, s.InTx(ctx, fn))
			} else {
				require.NoError(t, fn(s))
			}
		}
		gone := func(marker string) {
			t.Helper()
			require.False(t, bytes.Contains(walFiles(t, path), []byte(marker)),
				"in a transaction: %v: %q lingers in the database or the WAL", inTx, marker)
		}

		const oldToken = "enc:v1:zq-old-executor-token-27182"
		x := storetest.ExecutorConfig("kyc", now)
		x.Authentication.Config = map[string]any{"token": oldToken}
		require.NoError(t, s.CreateExecutorConfig(ctx, x))
		x.Authentication.Config = map[string]any{"token": "enc:v1:new"}
		x.Revision++
		write(func(tx store.Tx) error { return tx.UpdateExecutorConfig(ctx, x, x.Revision-1) })
		gone(oldToken)

		const oldVerify = "enc:v1:zq-old-verify-token-16180"
		wf := uuid.New()
		require.NoError(t, s.ReplaceWebhookRoutes(ctx, wf, []flow.WebhookRoute{{Method: "POST", Path: "/in",
			WorkflowID: wf, NodeID: "trigger", VerifyToken: oldVerify}}))
		write(func(tx store.Tx) error { return tx.ReplaceWebhookRoutes(ctx, wf, nil) })
		gone(oldVerify)
	}
}
