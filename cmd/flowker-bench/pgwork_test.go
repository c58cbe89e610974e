package main

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store/storetest"
)

// The bench reads PostgreSQL's own work: the CPU of the server processes
// behind the bench's database and the WAL written, both of which grow
// with work the server does for a client.
func TestPGWorkReadsTheServersCPUAndWAL(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", storetest.PostgresURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1) // one backend does the work below: it is counted

	start := readPGWork(ctx, db)
	require.NotNil(t, start)
	require.True(t, start.cpuOK, "the server's processes are on this machine")
	require.True(t, start.walOK, "the WAL's position is read")
	_, err = db.ExecContext(ctx, `CREATE TABLE pgwork (n int, h text)`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO pgwork SELECT g, md5(g::text) FROM generate_series(1, 200000) AS g`)
	require.NoError(t, err)

	w := readPGWork(ctx, db).since(start, 4)
	require.True(t, w.cpuOK && w.walOK)
	require.Positive(t, w.cpu, "the backend's CPU for the statement")
	require.Greater(t, w.walBytes, int64(1<<20), "200,000 rows of WAL")
	require.Equal(t, w.cpu/4, w.cpuPerExec)
	require.InDelta(t, float64(w.walBytes)/4, w.walPerExec, 0.01)
	require.Contains(t, w.text(), " ms / ")

	require.Nil(t, readPGWork(ctx, nil), "SQLite: nothing to read")
	require.Equal(t, "—", (*pgWork)(nil).text())
	require.Nil(t, w.since(start, 0), "no executions: no figure")
}
