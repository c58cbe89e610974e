package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// migratedReadOnly is a read-only connection to a SQLite database the store
// has migrated, for reading compiled statements and plans.
func migratedReadOnly(t *testing.T) *sql.DB {
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(context.Background(), path, "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// A running execution's progress write, the most frequent statement,
// changes no index entry and fires no trigger on SQLite (which rewrites
// every index holding a column an UPDATE sets, whatever the value); the
// terminal write does both. Read from the compiled statements.
func TestRunningProgressTouchesNoIndex(t *testing.T) {
	t.Parallel()
	db := migratedReadOnly(t)

	indexWork := func(query string, params int) (n int) {
		rows, err := db.QueryContext(context.Background(), "EXPLAIN "+query, make([]any, params)...)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var addr, p1, p2, p3 int
			var op string
			var p4, p5, comment any
			require.NoError(t, rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment))
			switch op {
			case "IdxInsert", "IdxDelete", "Program": // Program: a trigger
				n++
			}
		}
		require.NoError(t, rows.Err())
		return n
	}
	require.Zero(t, indexWork(sqlstore.RunningUpdate, 9))
	require.Positive(t, indexWork(sqlstore.ProgressUpdate, 10))
}

// The hand-back at shutdown and the queue depth read the unfinished rows
// only (two short ranges of the status index, or the claim's partial
// index), now that no index on the lease owner is kept: each execution
// wrote and deleted an entry in it. A plan that scanned the table would
// read the whole history. SQLite plans these the same with or without
// statistics (the store never runs ANALYZE).
func TestUnfinishedQueriesReadUnfinishedRowsOnly(t *testing.T) {
	t.Parallel()
	db := migratedReadOnly(t)

	texts := func(query string, args ...any) []string { return lastColumn(t, db, query, args...) }
	require.NotContains(t, texts(`SELECT name FROM sqlite_master WHERE tbl_name = 'executions' AND type = 'index'`),
		"executions_owner")

	for _, q := range []struct {
		sql    string
		params int
	}{{sqlstore.ReleaseLeasesSQL, 2}, {sqlstore.CountUnfinishedSQL, 0}} {
		plan := texts("EXPLAIN QUERY PLAN "+q.sql, make([]any, q.params)...) // the detail column
		require.Len(t, plan, 1, q.sql)
		require.Regexp(t, `^SEARCH executions USING (COVERING )?INDEX `+
			`(executions_unfinished_started|executions_status_started \(status=\?\))$`, plan[0], q.sql)
	}
}

// On PostgreSQL pgx prepares each statement once per connection, and after
// five runs the server may keep one plan for all parameters (a generic
// plan) for the connection's life. Planned while the table was small (a
// new deployment, or a connection's first writes), the running progress
// write chose the index led by status over the primary key: its range of
// 'running' entries holds one for every execution that ever ran (until
// vacuum), so each write read more than the last, and phase a of
// `make bench` slowed by a quarter after its sync phase had planned it.
// Every write of one execution or wait by its id finds its row by id.
func TestWritesByIDFindTheRowByID(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	s := openPostgres(t, url, 2)
	ctx := context.Background()
	now := time.Now().UTC()
	for range 16 { // a new deployment's tables, never analyzed
		e := storetest.Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
		require.NoError(t, s.CreateExecution(ctx, e))
		require.NoError(t, s.SaveWaits(ctx, []flow.Wait{{ID: uuid.New(), ExecutionID: e.ID, WorkflowID: e.WorkflowID,
			NodeID: "delay", Kind: flow.NodeDelay, Status: flow.WaitOpen, CreatedAt: now}}))
	}
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan")
	require.NoError(t, err)

	id := uuid.NewString()
	for name, q := range map[string]struct{ sql, args string }{
		"running":  {sqlstore.Fenced(s.DB, sqlstore.RunningUpdate), `(NULL, '', 1, 3, now(), now(), '` + id + `', 'me', 'running')`},
		"terminal": {sqlstore.Fenced(s.DB, sqlstore.ProgressUpdate), `('completed', now(), NULL, '', 3, 3, now(), NULL, '` + id + `', 'me')`},
		"park":     {sqlstore.ParkExecutionSQL, `('` + id + `', 'me', now())`},
		"wake":     {sqlstore.WakeExecutionSQL, `('` + id + `', 'running', 'me', now(), now())`},
		"resolve":  {sqlstore.ResolveWaitSQL, `('` + id + `', 'resolved', NULL, '', now())`},
	} {
		table := "executions"
		if name == "resolve" {
			table = "execution_waits"
		}
		_, err := conn.ExecContext(ctx, "PREPARE "+name+" AS "+q.sql)
		require.NoError(t, err)
		plan := lastColumn(t, conn, "EXPLAIN EXECUTE "+name+q.args)
		require.Contains(t, strings.Join(plan, "\n"), "Index Scan using "+table+"_pkey", "%s:\n%s", name, strings.Join(plan, "\n"))
	}
}

// lastColumn reads the last column of every row query returns, as text
// (a plan's lines).
func lastColumn(t *testing.T, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) (out []string) {
	rows, err := db.QueryContext(context.Background(), query, args...)
	require.NoError(t, err)
	defer rows.Close()
	columns, err := rows.Columns()
	require.NoError(t, err)
	for rows.Next() {
		values := make([]any, len(columns))
		var last string
		for i := range values[:len(values)-1] {
			values[i] = new(any)
		}
		values[len(values)-1] = &last
		require.NoError(t, rows.Scan(values...))
		out = append(out, last)
	}
	require.NoError(t, rows.Err())
	return out
}
