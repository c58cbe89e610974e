package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store/postgres"
	"flowker/internal/store/storetest"
)

// Migration 00005 replaces the executions status CHECK on a database that
// already has executions and steps: rows kept, 'waiting' allowed, other
// values and dangling steps still refused.
func TestMigration5KeepsExecutions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"))
	require.NoError(t, err)
	_, err = p.UpTo(ctx, 4)
	require.NoError(t, err)

	id, wf := uuid.New(), uuid.New()
	_, err = db.ExecContext(ctx, `INSERT INTO executions (id, workflow_id, workflow_revision, trigger_node_id, status, input,
		current_step, total_steps, lease_owner, lease_expires_at, started_at, updated_at)
		VALUES ($1, $2, 1, 't', 'running', '{"a":1}', 1, 2, 'owner', now(), now(), now())`, id, wf)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO execution_steps (execution_id, step_number, node_id, name, status, started_at, completed_at)
		VALUES ($1, 1, 'n', 'N', 'completed', now(), now())`, id)
	require.NoError(t, err)

	s, err := postgres.Open(ctx, url, 2)
	require.NoError(t, err)
	defer s.Close()
	ex, err := s.GetExecution(ctx, id)
	require.NoError(t, err)
	require.Equal(t, flow.ExecRunning, ex.Status)
	steps, err := s.ListSteps(ctx, id)
	require.NoError(t, err)
	require.Len(t, steps, 1)

	_, err = db.ExecContext(ctx, `UPDATE executions SET status = 'waiting' WHERE id = $1`, id)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `UPDATE executions SET status = 'sleeping' WHERE id = $1`, id)
	require.ErrorContains(t, err, "executions_status_check")
	_, err = db.ExecContext(ctx, `INSERT INTO execution_steps (execution_id, step_number, node_id, name, status, started_at, completed_at)
		VALUES ($1, 1, 'n', 'N', 'completed', now(), now())`, uuid.New())
	require.ErrorContains(t, err, "foreign key")
}
