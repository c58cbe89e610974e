package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
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
	s.UseAuditKey(storetest.AuditKey)
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

// TestMigrationLockIsPerSchema: a migration elsewhere in the database —
// here a session holding goose's default lock key, as another goose user
// or a Flowker of another schema before the lock was per schema would
// while migrating — does not hold up opening a fresh schema. (Every test
// schema's migration waited for every other one's, 1 s poll by 1 s poll:
// with a dozen parallel opens some took 9 s, and cmd/flowker's process
// starts timed out under load.)
func TestMigrationLockIsPerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer func() { _ = raw.Close() }()
	other, err := raw.Conn(ctx)
	require.NoError(t, err)
	defer func() { _ = other.Close() }()
	var locked bool
	require.NoError(t, other.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", lock.DefaultLockID).Scan(&locked))
	if !locked {
		t.Skip("goose's default lock key is held by something else on this database")
	}
	defer func() { _, _ = other.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", lock.DefaultLockID) }()

	within, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := postgres.Open(within, url, 2)
	require.NoError(t, err, "a fresh schema migrates while another migration holds goose's key")
	s.UseAuditKey(storetest.AuditKey)
	require.NoError(t, s.Close())
}

// TestReplicasMigrateTogether: stores opening one fresh schema at once
// (replicas starting together) still take turns: every one opens, on the
// same migrated schema.
func TestReplicasMigrateTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	for i, err := range openTogether(ctx, url, 4) {
		require.NoError(t, err, "replica %d", i)
	}
}

// openTogether opens and closes n stores on url at once, as replicas
// starting together do, and returns each one's error.
func openTogether(ctx context.Context, url string, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := postgres.Open(ctx, url, 2)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errs
}
