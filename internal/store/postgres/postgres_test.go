package postgres_test

import (
	"context"
	"database/sql"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.PostgresURL(t) // skip the whole suite early when no database is configured
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), storetest.PostgresURL(t), 8)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

func TestAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	a, err := postgres.Open(ctx, url, 8)
	require.NoError(t, err)
	defer a.Close()
	b, err := postgres.Open(ctx, url, 8) // a second process's pool on the same database
	require.NoError(t, err)
	defer b.Close()
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer raw.Close()
	storetest.RunAudit(t, a, b, func(t *testing.T, seq int64, value string) {
		for _, q := range []string{`ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete`,
			`UPDATE audit_events SET resource_id = '` + value + `' WHERE seq = ` + strconv.FormatInt(seq, 10)} {
			_, err := raw.ExecContext(ctx, q)
			require.NoError(t, err)
		}
	}, raw)
}

func openBench(b *testing.B) (*sqlstore.DB, *sql.DB) {
	url := storetest.PostgresURL(b)
	s, err := postgres.Open(context.Background(), url, 40)
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	raw, err := sql.Open("pgx", url)
	require.NoError(b, err)
	b.Cleanup(func() { _ = raw.Close() })
	return s, raw
}

// go test ./internal/store/postgres -run '^$' -bench AuditAppend (needs FLOWKER_TEST_DATABASE_URL)
func BenchmarkAuditAppend32(b *testing.B) {
	s, _ := openBench(b)
	storetest.BenchAuditAppend(b, s, 32)
}

// go test ./internal/store/postgres -run '^$' -bench Dashboard1M -benchtime 20x
func BenchmarkDashboard1M(b *testing.B) {
	s, raw := openBench(b)
	storetest.SeedExecutions(b, raw, `INSERT INTO executions (id, workflow_id, workflow_revision, trigger_node_id,
			status, input, started_at, updated_at)
		SELECT gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 1, 't',
			(ARRAY['failed','running','cancelled','completed','completed','completed','completed','completed','completed','completed'])[i % 10 + 1],
			'{}', '2026-01-01'::timestamptz + ((i * 31) % 31536000) * interval '1 second', now()
		FROM generate_series(1, 1000000) AS i`)
	storetest.SeedExecutions(b, raw, `VACUUM ANALYZE executions`)
	storetest.BenchDashboard(b, s)
}
