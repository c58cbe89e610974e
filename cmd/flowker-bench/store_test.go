package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// The finished count a run polls every 20 ms reads only the executions
// started since the run began, one seek per status into the (status,
// started_at) index: with the started_at bound alone, SQLite scanned that
// covering index whole, which on phase h's 5,000,000 past executions was
// the heaviest load on the machine, and slowed the run it timed.
func TestCountSinceSeeksEachStatus(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, sqlitePath(dir), "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, e := range []struct {
		status flow.ExecutionStatus
		ago    time.Duration
	}{
		{flow.ExecCompleted, 0}, {flow.ExecCompleted, 0}, {flow.ExecFailed, 0}, {flow.ExecCancelled, 0},
		{flow.ExecRunning, 0}, {flow.ExecPending, 0}, {flow.ExecWaiting, 0},
		{flow.ExecCompleted, time.Hour}, {flow.ExecFailed, time.Hour}, // before the run: not counted
	} {
		ex := storetest.Execution(uuid.New(), e.status, now.Add(-e.ago), "bench", now.Add(time.Hour))
		require.NoError(t, s.CreateExecution(ctx, ex))
	}

	st, err := storeFor(ctx, "sqlite-full", options{})
	require.NoError(t, err)
	db, err := st.open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	since := st.timeArg(now.Add(-time.Minute))
	c, err := countExecutionsSince(ctx, db, since)
	require.NoError(t, err)
	require.Equal(t, counts{running: 2, waiting: 1, completed: 2, failed: 1, cancelled: 1}, c)

	for _, s := range flow.ExecutionStatuses { // the bench is a client: it names them itself
		require.Contains(t, countSinceQuery, "'"+string(s)+"'")
	}

	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+countSinceQuery, since)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"SEARCH executions USING COVERING INDEX executions_status_started (status=? AND started_at>?)"},
		plan, strings.Join(plan, "; "))
}
