package service_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/faultstore" //nolint:depguard // faults in the store, to stop a batch half-way
)

// retentionNow is the service's clock in these tests.
var retentionNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newRetention(t *testing.T, st store.Store) *service.Service {
	t.Helper()
	return newTestService(t, st, service.WithClock(func() time.Time { return retentionNow }))
}

// history is a database with executions of every kind, old and recent.
type history struct {
	due  []uuid.UUID // finished before the cutoff (30 days ago)
	kept []uuid.UUID // unfinished however old, or finished since the cutoff
}

// seedHistory creates n finished executions per old day (two days, about
// 40 days ago) with a step, a decided review and a signal each; recent
// finished ones; and old unfinished ones, one waiting with a stale
// completion time.
func seedHistory(t *testing.T, st store.Store, n int) history {
	t.Helper()
	ctx := context.Background()
	var h history
	wf := uuid.New()
	create := func(status flow.ExecutionStatus, started time.Time, children bool) uuid.UUID {
		e := &flow.Execution{ID: uuid.New(), WorkflowID: wf, WorkflowRevision: 1, TriggerNodeID: "t",
			Status: flow.ExecRunning, Input: map[string]any{"amount": 10.0}, LeaseOwner: "w",
			LeaseExpiresAt: &retentionNow, StartedAt: started, UpdatedAt: started}
		require.NoError(t, st.CreateExecution(ctx, e))
		var steps []flow.Step
		if children {
			steps = []flow.Step{{ExecutionID: e.ID, Number: 1, NodeID: "kyc", Name: "KYC", Status: flow.StepCompleted,
				Output: map[string]any{"ok": true}, Attempts: 1, StartedAt: started, CompletedAt: started}}
			w := flow.Wait{ID: uuid.New(), ExecutionID: e.ID, WorkflowID: wf, NodeID: "r", Kind: flow.NodeReview,
				Status: flow.WaitOpen, Review: &flow.ReviewTask{Title: "Check", Decisions: []string{"approve"},
					RequiredApprovals: 1}, CreatedAt: started}
			require.NoError(t, st.SaveWaits(ctx, []flow.Wait{w}))
			require.NoError(t, st.AddDecision(ctx, w.ID, flow.Decision{Decision: "approve", ActorType: "user",
				ActorID: "alice", DecidedAt: started}))
			require.NoError(t, st.AddSignal(ctx, &flow.Signal{ExecutionID: e.ID, Name: "cb", Payload: map[string]any{"x": 1.0},
				Source: "api", ActorType: "user", ActorID: "bob", ReceivedAt: started}))
		}
		done := *e
		done.Status = status
		if status.Terminal() || status == flow.ExecWaiting {
			end := started.Add(time.Minute)
			done.CompletedAt = &end // a waiting one with a stale completion time must stay too
		}
		err := st.SaveProgress(ctx, "w", &done, steps, nil)
		require.NoError(t, err)
		return e.ID
	}
	for day := range 2 {
		for i := range n {
			started := retentionNow.AddDate(0, 0, -40+day).Add(time.Duration(i) * time.Minute)
			st := []flow.ExecutionStatus{flow.ExecCompleted, flow.ExecFailed, flow.ExecCancelled}[i%3]
			h.due = append(h.due, create(st, started, true))
		}
	}
	old := retentionNow.AddDate(0, -6, 0)
	for _, st := range []flow.ExecutionStatus{flow.ExecPending, flow.ExecRunning, flow.ExecWaiting} {
		h.kept = append(h.kept, create(st, old, true))
	}
	h.kept = append(h.kept, create(flow.ExecCompleted, retentionNow.AddDate(0, 0, -29), true))
	return h
}

func policy(t *testing.T, batch int) service.RetentionPolicy {
	return service.RetentionPolicy{Age: 30 * 24 * time.Hour, ArchiveDir: t.TempDir(), BatchSize: batch}
}

// readArchive decodes an archive file's lines.
func readArchive(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	var out []map[string]any
	lines := bufio.NewScanner(gz)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(lines.Bytes(), &rec))
		out = append(out, rec)
	}
	require.NoError(t, lines.Err())
	return out
}

// archivedIDs lists the execution ids of every file a run wrote.
func archivedIDs(t *testing.T, dir string, files []string) []string {
	t.Helper()
	var ids []string
	for _, f := range files {
		for _, rec := range readArchive(t, filepath.Join(dir, f)) {
			ids = append(ids, rec["execution"].(map[string]any)["id"].(string))
		}
	}
	return ids
}

func idStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	slices.Sort(out)
	return out
}

// verifyChain checks the whole audit chain, as GET /v1/audit/{id}/verify does.
func verifyChain(t *testing.T, svc *service.Service, st store.Store) {
	t.Helper()
	last, err := st.ListAudit(context.Background(), audit.Filter{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, last)
	res, err := svc.VerifyAudit(context.Background(), last[0].ID, nil)
	require.NoError(t, err)
	require.True(t, res.Valid, res.Reason)
}

func TestArchiveExecutions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	h := seedHistory(t, st, 3)
	svc := newRetention(t, st)
	p := policy(t, 2)
	require.NoError(t, st.InTx(ctx, func(tx store.Tx) error { // an event before: the chain must go on from it
		return tx.AppendAudit(ctx, audit.NewEvent(ctx, uuid.New(), retentionNow, "WORKFLOW_CREATED", "CREATE",
			"SUCCESS", "workflow", uuid.NewString(), map[string]any{}))
	}))

	res, err := svc.ArchiveExecutions(ctx, p)
	require.NoError(t, err)
	require.Equal(t, 6, res.Executions)
	require.Len(t, res.Files, 4, "batches of 2, one UTC day per file: 2+1 on each day")
	require.Equal(t, idStrings(h.due), sortedCopy(archivedIDs(t, p.ArchiveDir, res.Files)))

	// The rows are gone with everything that belongs to them; the others stay.
	for _, id := range h.due {
		_, err := st.GetExecution(ctx, id)
		require.ErrorIs(t, err, flow.ErrExecutionNotFound)
		steps, err := st.ListSteps(ctx, id)
		require.NoError(t, err)
		require.Empty(t, steps)
	}
	for _, id := range h.kept {
		_, err := st.GetExecution(ctx, id)
		require.NoError(t, err, "unfinished or recent: kept")
	}

	// A line holds the execution with its steps, waits (decisions) and signals.
	rec := readArchive(t, filepath.Join(p.ArchiveDir, res.Files[0]))[0]
	require.Equal(t, "kyc", rec["steps"].([]any)[0].(map[string]any)["nodeId"])
	wait := rec["waits"].([]any)[0].(map[string]any)
	require.Equal(t, "alice", wait["decisions"].([]any)[0].(map[string]any)["actorId"])
	require.Equal(t, "Check", wait["review"].(map[string]any)["title"])
	require.Equal(t, "bob", rec["signals"].([]any)[0].(map[string]any)["actorId"])
	require.Equal(t, 10.0, rec["execution"].(map[string]any)["input"].(map[string]any)["amount"])

	// Each file is in its day's manifest and in the audit chain, with its digest.
	events, err := st.ListAudit(ctx, audit.Filter{EventType: "EXECUTIONS_ARCHIVED", Ascending: true, Limit: 10})
	require.NoError(t, err)
	require.Len(t, events, 4)
	for i, e := range events {
		require.Equal(t, res.Files[i], e.Metadata["file"])
		data, err := os.ReadFile(filepath.Join(p.ArchiveDir, res.Files[i]))
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		require.Equal(t, hex.EncodeToString(sum[:]), e.Metadata["sha256"])
		require.Equal(t, "execution_archive", e.ResourceType)
	}
	var m struct {
		Format string
		Files  []service.ArchiveEntry
	}
	data, err := os.ReadFile(filepath.Join(p.ArchiveDir, filepath.Dir(res.Files[0]), "MANIFEST.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &m))
	require.Equal(t, service.ArchiveFormat, m.Format)
	require.Len(t, m.Files, 2)
	require.Equal(t, events[0].Metadata["sha256"], m.Files[0].SHA256)
	require.Equal(t, 2, m.Files[0].Executions)

	verifyChain(t, svc, st)
	check, err := svc.VerifyArchive(ctx, p.ArchiveDir)
	require.NoError(t, err)
	require.True(t, check.Valid())
	require.Equal(t, 4, check.Checked)
	require.Empty(t, check.Unrecorded)

	// Dashboards count what the database holds: archived executions left the counts.
	require.NoError(t, svc.FoldExecutionCounts(ctx))
	counts, err := svc.ExecutionSummary(ctx, nil, nil, "")
	require.NoError(t, err)
	require.Equal(t, map[flow.ExecutionStatus]int64{flow.ExecPending: 1, flow.ExecRunning: 1, flow.ExecWaiting: 1,
		flow.ExecCompleted: 1}, counts)

	again, err := svc.ArchiveExecutions(ctx, p)
	require.NoError(t, err)
	require.Zero(t, again.Executions, "nothing left to archive")

	// A file changed or lost after the fact is named.
	require.NoError(t, os.WriteFile(filepath.Join(p.ArchiveDir, res.Files[1]), []byte("forged"), 0o600))
	require.NoError(t, os.Remove(filepath.Join(p.ArchiveDir, res.Files[2])))
	check, err = svc.VerifyArchive(ctx, p.ArchiveDir)
	require.NoError(t, err)
	require.False(t, check.Valid())
	require.Equal(t, []string{res.Files[1]}, check.Altered)
	require.Equal(t, []string{res.Files[2]}, check.Missing)
}

// TestArchiveInterrupted: a batch that fails after its file was written
// and before its delete committed (as a crash there would) loses nothing:
// the rows stay, the file is a duplicate the chain does not record, and
// the next run archives the rows again.
func TestArchiveInterrupted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := faultstore.Wrap(openSQLite(t))
	h := seedHistory(t, st, 2)
	svc := newRetention(t, st)
	p := policy(t, 10)

	boom := errors.New("power lost")
	st.Fail("DeleteExecutions", faultstore.Once, boom)
	_, err := svc.ArchiveExecutions(ctx, p)
	require.ErrorIs(t, err, boom)
	for _, id := range h.due {
		_, err := st.GetExecution(ctx, id)
		require.NoError(t, err, "not deleted")
	}
	events, err := st.ListAudit(ctx, audit.Filter{EventType: "EXECUTIONS_ARCHIVED", Limit: 10})
	require.NoError(t, err)
	require.Empty(t, events, "nothing recorded")
	check, err := svc.VerifyArchive(ctx, p.ArchiveDir)
	require.NoError(t, err)
	require.True(t, check.Valid())
	require.Len(t, check.Unrecorded, 1, "the file written before the failure")
	leftover := check.Unrecorded[0]
	require.Len(t, archivedIDs(t, p.ArchiveDir, []string{leftover}), 2, "first day's batch, durable")

	// A failure while the file is being written leaves no file at all.
	st.Fail("ExecutionRecords", faultstore.Once, boom)
	_, err = svc.ArchiveExecutions(ctx, p)
	require.ErrorIs(t, err, boom)
	tmp, err := filepath.Glob(filepath.Join(p.ArchiveDir, "*", ".executions-*"))
	require.NoError(t, err)
	require.Empty(t, tmp, "temporary file removed")

	res, err := svc.ArchiveExecutions(ctx, p)
	require.NoError(t, err)
	require.Equal(t, idStrings(h.due), sortedCopy(archivedIDs(t, p.ArchiveDir, res.Files)))
	check, err = svc.VerifyArchive(ctx, p.ArchiveDir)
	require.NoError(t, err)
	require.True(t, check.Valid())
	require.Equal(t, []string{leftover}, check.Unrecorded)
	require.Equal(t, 2, check.Checked)
	verifyChain(t, svc, st)
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// manifestEntries lists the files of every day's manifest.
func manifestEntries(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*", "MANIFEST.json"))
	require.NoError(t, err)
	var out []string
	for _, path := range paths {
		var m struct{ Files []service.ArchiveEntry }
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &m))
		for _, e := range m.Files {
			out = append(out, e.File)
		}
	}
	return out
}

// TestRunHistory: the loop folds dashboard counts and archives on its
// intervals, reports what it archived, and stops with its context.
func TestRunHistory(t *testing.T) {
	t.Parallel()
	st := faultstore.Wrap(openSQLite(t))
	h := seedHistory(t, st, 2)
	svc := newRetention(t, st)
	p := policy(t, 100)
	ctx, cancel := context.WithCancel(context.Background())
	archived := make(chan service.ArchiveResult, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.RunHistory(ctx, service.HistoryOptions{Retention: p, RetentionEvery: 10 * time.Millisecond,
			FoldEvery:  5 * time.Millisecond,
			OnArchived: func(r service.ArchiveResult) { archived <- r },
			OnError:    func(op string, err error) { t.Errorf("%s: %v", op, err) }})
	}()
	res := <-archived
	require.Equal(t, len(h.due), res.Executions)
	folds := st.Called("FoldExecutionCounts")
	for len(folds) > 0 {
		<-folds
	}
	<-folds // a fold after the archive's deletes,
	<-folds // and done: the loop has entered the next one
	cancel()
	<-done
	n, err := st.FoldExecutionCounts(context.Background(), 1000)
	require.NoError(t, err)
	require.Zero(t, n, "the loop folded every change, the archive's deletes included")
}

// TestRunHistoryReportsTheAuditHeadWhenItMoves: a keyed chain cannot show
// its newest events removed together, so the loop hands the chain's head
// to the log (AUDIT_HEAD_LOG_INTERVAL), outside the database, each time it
// moved: the next report after a new event is that event, not the last
// head again.
func TestRunHistoryReportsTheAuditHeadWhenItMoves(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, openSQLite(t))
	ctx, cancel := context.WithCancel(context.Background())
	heads := make(chan audit.Event, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.RunHistory(ctx, service.HistoryOptions{HeadEvery: 2 * time.Millisecond,
			OnHead:  func(e audit.Event) { heads <- e },
			OnError: func(op string, err error) { t.Errorf("%s: %v", op, err) }})
	}()
	defer func() { cancel(); <-done }()
	for want := range int64(3) {
		w, err := svc.CreateWorkflow(ctx, flow.Definition{Name: fmt.Sprint("anchored-", want), Nodes: []flow.Node{{ID: "t", Type: flow.NodeTrigger}}})
		require.NoError(t, err)
		got := <-heads
		require.Equal(t, want+1, got.Seq, "reported once it moved, and only then")
		require.Equal(t, w.ID.String(), got.ResourceID)
		stored, err := svc.GetAuditEvent(ctx, got.ID)
		require.NoError(t, err)
		require.Equal(t, stored.Hash, got.Hash)
	}
}
