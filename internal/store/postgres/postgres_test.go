package postgres_test

import (
	"context"
	"database/sql"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store"
	"flowker/internal/store/postgres"
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
