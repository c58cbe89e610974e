package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/store"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "FULL")
		require.NoError(t, err)
		s.UseAuditKey(storetest.AuditKey)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

// TestReopen: migrations are idempotent and data survives a restart.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "flowker.db")
	s, err := sqlite.Open(ctx, path, "FULL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	w := storetest.Workflow("persisted", storetest.NewClock().Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))
	require.NoError(t, s.Close())

	s, err = sqlite.Open(ctx, path, "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	defer s.Close()
	got, err := s.GetWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, w.Name, got.Name)
}

// TestOneProcessPerFile: the file is locked from Open to Close; a second
// Open (another process, or this one) is refused with the holder's pid and
// touches nothing, and the file opens again once the first store closed.
func TestOneProcessPerFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(ctx, path, "FULL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	pid, err := os.ReadFile(path + ".lock")
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(pid))

	_, err = sqlite.Open(ctx, path, "FULL")
	var inUse *sqlite.InUseError
	require.ErrorAs(t, err, &inUse)
	require.Equal(t, fmt.Sprintf("the SQLite database %s is in use by another Flowker process (pid %d)", path, os.Getpid()),
		err.Error())
	// Other spellings of the same file: a link to it, a linked directory.
	link := filepath.Join(t.TempDir(), "link.db")
	require.NoError(t, os.Symlink(path, link))
	dirLink := filepath.Join(t.TempDir(), "dir")
	require.NoError(t, os.Symlink(filepath.Dir(path), dirLink))
	for _, other := range []string{link, filepath.Join(dirLink, "flowker.db")} {
		_, err = sqlite.Open(ctx, other, "FULL")
		require.ErrorAs(t, err, &inUse, other)
		require.Equal(t, other, inUse.Path)
	}
	dangling := filepath.Join(t.TempDir(), "dangling.db")
	require.NoError(t, os.Symlink(filepath.Join(t.TempDir(), "gone", "x.db"), dangling))
	_, err = sqlite.Open(ctx, dangling, "FULL")
	require.ErrorContains(t, err, "is a link to a file that does not exist")
	w := storetest.Workflow("still-served", storetest.NewClock().Now())
	require.NoError(t, s.CreateWorkflow(ctx, w), "the refused Opens left the first store working")

	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "closing twice is harmless")
	s, err = sqlite.Open(ctx, path, "FULL")
	require.NoError(t, err, "the lock is released on Close")
	s.UseAuditKey(storetest.AuditKey)
	defer s.Close()
	_, err = s.GetWorkflow(ctx, w.ID)
	require.NoError(t, err)
}

func TestAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(ctx, path, "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	defer s.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer raw.Close()
	// SQLite has one writer per file, so the "second process" is the same store.
	storetest.RunAudit(t, s, s, func(t *testing.T, seq int64, column, value string) {
		for _, q := range []string{`DROP TRIGGER IF EXISTS audit_events_no_update`,
			`UPDATE audit_events SET ` + column + ` = '` + value + `' WHERE seq = ` + strconv.FormatInt(seq, 10)} {
			_, err := raw.ExecContext(ctx, q)
			require.NoError(t, err)
		}
	}, raw)
}

func openBench(b *testing.B) (*sqlite.Store, *sql.DB) {
	path := filepath.Join(b.TempDir(), "flowker.db")
	s, err := sqlite.Open(context.Background(), path, "FULL")
	require.NoError(b, err)
	s.UseAuditKey(storetest.AuditKey)
	b.Cleanup(func() { _ = s.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(b, err)
	b.Cleanup(func() { _ = raw.Close() })
	return s, raw
}

// go test ./internal/store/sqlite -run '^$' -bench AuditAppend
func BenchmarkAuditAppend32(b *testing.B) {
	s, _ := openBench(b)
	storetest.BenchAuditAppend(b, s, 32)
}

// go test ./internal/store/sqlite -run '^$' -bench ExecutionWithSteps
func BenchmarkExecutionWithSteps(b *testing.B) {
	s, _ := openBench(b)
	storetest.BenchExecutionWithSteps(b, s)
}

// go test ./internal/store/sqlite -run '^$' -bench Dashboard1M -benchtime 20x
func BenchmarkDashboard1M(b *testing.B) {
	s, raw := openBench(b)
	storetest.SeedExecutions(b, raw, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
		INSERT INTO executions (id, workflow_id, workflow_revision, trigger_node_id, status, input, started_at, updated_at)
		SELECT printf('%08x-0000-4000-8000-%012x', i, i), '00000000-0000-4000-8000-000000000001', 1, 't',
			CASE i % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'running' WHEN 2 THEN 'cancelled' ELSE 'completed' END, '{}',
			strftime('%Y-%m-%dT%H:%M:%f000Z', '2026-01-01', '+' || ((i * 31) % 31536000) || ' seconds'),
			'2026-01-01T00:00:00.000000Z' FROM n`)
	storetest.SeedExecutions(b, raw, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
		INSERT INTO executions (id, workflow_id, workflow_revision, trigger_node_id, status, input, started_at, updated_at)
		SELECT printf('%08x-0000-4000-9000-%012x', i, i), '00000000-0000-4000-8000-000000000001', 1, 't',
			CASE i % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'running' WHEN 2 THEN 'cancelled' ELSE 'completed' END,
			'{"pad": "' || hex(randomblob(1500)) || '"}', -- 3 KB, as the reference workflow's
			strftime('%Y-%m-%dT%H:%M:%f000Z', `+storetest.BusyEdgeStart+`, '+' || (i * 0.02) || ' seconds'),
			'2026-01-01T00:00:00.000000Z' FROM n`)
	storetest.BenchDashboard(b, s)
}

// A read back, run in the writer's transaction, of a row the store cannot
// take in (JSON that does not parse, a time that is not one) leaves the
// caller to read, and the write commits.
func TestReadBackOfRowsNotTakenInCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(ctx, path, "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer raw.Close()
	steps := []string{
		`'{"n": ', '2026-07-03T10:00:00Z'`, // output, started_at
		`'{"n": 1}', 'yesterday'`,
	}
	storetest.RunReadBackOfRowsNotTakenIn(t, s, len(steps), func(t *testing.T, v int, id uuid.UUID) {
		_, err := raw.ExecContext(ctx, `INSERT INTO execution_steps (execution_id, step_number, node_id, name, status,
			output, started_at, attempts, completed_at) VALUES (?, 1, 'n', 'N', 'completed', `+steps[v]+`, 1, '2026-07-03T10:00:01Z')`, id.String())
		require.NoError(t, err)
	})
}
