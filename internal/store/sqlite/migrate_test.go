package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// openRaw opens the file as the store's writer does: foreign keys on.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	return db
}

// executionIndexes lists the executions table's indexes with their SQL.
func executionIndexes(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions' AND sql IS NOT NULL`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		require.NoError(t, rows.Scan(&name, &def))
		out[name] = def
	}
	require.NoError(t, rows.Err())
	return out
}

// Migration 00005 rebuilds the executions table (SQLite cannot change a
// CHECK in place) with foreign keys off. On a database with executions and
// steps from the previous schema: every row and index is kept, nothing
// dangles, and foreign keys are enforced again afterwards.
func TestMigration5KeepsExecutions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowker.db")
	db := openRaw(t, path)
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"))
	require.NoError(t, err)
	_, err = p.UpTo(ctx, 4)
	require.NoError(t, err)

	done, running := uuid.New(), uuid.New()
	wf := uuid.New()
	at := "2026-03-20T12:00:00.000000Z"
	_, err = db.ExecContext(ctx, `INSERT INTO executions (id, workflow_id, workflow_revision, trigger_node_id, status, input, output,
		idempotency_key, current_step, total_steps, lease_owner, lease_expires_at, started_at, completed_at, updated_at)
		VALUES ($1, $3, 1, 't', 'completed', '{"a":1}', '{"b":2}', 'key-1', 2, 2, '', NULL, $4, $4, $4),
		       ($2, $3, 1, 't', 'running', '{}', NULL, NULL, 1, 3, 'owner', $4, $4, NULL, $4)`,
		done.String(), running.String(), wf.String(), at)
	require.NoError(t, err)
	for i, id := range []uuid.UUID{done, done, running} {
		_, err = db.ExecContext(ctx, `INSERT INTO execution_steps (execution_id, step_number, node_id, name, status, output,
			started_at, completed_at) VALUES ($1, $2, 'n', 'N', 'completed', '{"i":1}', $3, $3)`, id.String(), i+1, at)
		require.NoError(t, err)
	}
	before := executionIndexes(t, db)
	require.Len(t, before, 7)
	_, err = p.UpTo(ctx, 5)
	require.NoError(t, err)
	require.Equal(t, before, executionIndexes(t, db), "indexes rebuilt as they were (00006 then changes some)")
	require.NoError(t, db.Close())

	s, err := sqlite.Open(ctx, path, "FULL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	ex, err := s.GetExecution(ctx, done)
	require.NoError(t, err)
	require.Equal(t, flow.ExecCompleted, ex.Status)
	require.Equal(t, map[string]any{"b": float64(2)}, ex.Output)
	found, err := s.FindExecutionByKey(ctx, wf, "key-1")
	require.NoError(t, err)
	require.Equal(t, done, found.ID)
	steps, err := s.ListSteps(ctx, done)
	require.NoError(t, err)
	require.Len(t, steps, 2)
	n, err := s.CountUnfinished(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	// The store's own writer enforces foreign keys after the migration.
	now := time.Now().UTC()
	require.Error(t, s.SaveWaits(ctx, []flow.Wait{{ID: uuid.New(), ExecutionID: uuid.New(), WorkflowID: wf, NodeID: "w",
		Kind: flow.NodeDelay, Status: flow.WaitOpen, CreatedAt: now}}), "a wait of no execution")
	require.NoError(t, s.SaveWaits(ctx, []flow.Wait{{ID: uuid.New(), ExecutionID: running, WorkflowID: wf, NodeID: "w",
		Kind: flow.NodeDelay, Status: flow.WaitOpen, CreatedAt: now}}))
	require.NoError(t, s.Close())

	db = openRaw(t, path)
	defer db.Close()
	var dangling int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check`).Scan(&dangling))
	require.Zero(t, dangling, "no row references a missing parent")
	_, err = db.ExecContext(ctx, `INSERT INTO execution_steps (execution_id, step_number, node_id, name, status, started_at, completed_at)
		VALUES ($1, 1, 'n', 'N', 'completed', $2, $2)`, uuid.NewString(), at)
	require.ErrorContains(t, err, "FOREIGN KEY", "steps still reference the rebuilt table")
	_, err = db.ExecContext(ctx, `UPDATE executions SET status = 'waiting' WHERE id = $1`, running.String())
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `UPDATE executions SET status = 'sleeping' WHERE id = $1`, running.String())
	require.ErrorContains(t, err, "CHECK")
}
