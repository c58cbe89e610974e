package storetest

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// runHistory: dashboard counts from rollups, and the store side of
// retention (docs/history.md).
func runHistory(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("CountRollups", func(t *testing.T) { t.Parallel(); testCountRollups(t, open(t)) })
	t.Run("CountRollupsBeforeEpoch", func(t *testing.T) { t.Parallel(); testCountRollupsBeforeEpoch(t, open(t)) })
	t.Run("CountRollupsNow", func(t *testing.T) { t.Parallel(); testCountRollupsNow(t, open(t)) })
	t.Run("CountRollupsConcurrent", func(t *testing.T) { t.Parallel(); testCountRollupsConcurrent(t, open(t)) })
	t.Run("RetentionDeletesOnlyFinished", func(t *testing.T) { t.Parallel(); testRetentionDeletes(t, open(t)) })
	t.Run("RetentionTryLock", func(t *testing.T) { t.Parallel(); testTryLock(t, open(t)) })
}

// FoldAll folds every pending count change (as the history loop does).
func FoldAll(t testing.TB, s store.Store) {
	t.Helper()
	for {
		n, err := s.FoldExecutionCounts(context.Background(), 1000)
		require.NoError(t, err)
		if n == 0 {
			return
		}
	}
}

// testCountRollups: through inserts, every kind of status change and
// deletes, folded in part, in full or not at all, both dashboard counts
// equal a count of the executions themselves, for ranges whose edges fall
// on, just before and just after slot and day edges, and across a slot
// edge with no whole slot inside (7m to 22m), and between two microseconds
// (half a microsecond after an execution started: a range from there
// leaves it out, one to there holds it).
func testCountRollups(t *testing.T, s store.Store) {
	ctx := context.Background()
	wf, other := uuid.New(), uuid.New()
	midnight := time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)
	at := func(d string) time.Time {
		dur, err := time.ParseDuration(d)
		require.NoError(t, err)
		return midnight.Add(dur)
	}
	statuses := []flow.ExecutionStatus{flow.ExecPending, flow.ExecRunning, flow.ExecCompleted, flow.ExecFailed,
		flow.ExecCancelled, flow.ExecWaiting}
	var ids []uuid.UUID
	byStatus := map[flow.ExecutionStatus][]uuid.UUID{}
	for i, d := range []string{"-72h", "-47h59m59.999999s", "-1h", "-15m", "-1us", "0s", "1us", "7m30s",
		"14m59.999999s", "15m", "20m", "2h", "49h"} {
		for j, w := range []uuid.UUID{wf, other} {
			st := statuses[(i+j)%len(statuses)]
			owner := ""
			if st == flow.ExecRunning {
				owner = "w1"
			}
			e := Execution(w, st, at(d), owner, queueBase.Add(time.Hour))
			createAll(t, s, e)
			ids = append(ids, e.ID)
			byStatus[st] = append(byStatus[st], e.ID)
		}
	}
	points := []*time.Time{nil}
	for _, d := range []string{"-72h", "-48h", "-1us", "0s", "1us", "7m", "14m59.999999s", "14m59.9999995s", "15m", "22m",
		"24h", "49h"} {
		p := at(d)
		points = append(points, &p)
	}
	check := func(stage string) {
		t.Helper()
		raw := rawExecutions(t, s, ids)
		for _, from := range points {
			for _, to := range points {
				got, err := s.CountExecutionsByStatus(ctx, from, to, "")
				require.NoError(t, err)
				require.Equal(t, rawByStatus(raw, from, to, ""), got, "%s: [%v, %v]", stage, from, to)
				got, err = s.CountExecutionsByStatus(ctx, from, to, flow.ExecRunning)
				require.NoError(t, err)
				require.Equal(t, rawByStatus(raw, from, to, flow.ExecRunning), got, "%s: running [%v, %v]", stage, from, to)
				if from == nil || to == nil {
					continue
				}
				for _, w := range []*uuid.UUID{nil, &wf} {
					slots, err := s.CountExecutionsBySlot(ctx, *from, *to, w)
					require.NoError(t, err)
					require.Equal(t, rawBySlot(raw, *from, *to, w), slots, "%s: slots [%v, %v) of %v", stage, from, to, w)
				}
			}
		}
	}

	check("inserted, nothing folded")
	n, err := s.FoldExecutionCounts(ctx, 5)
	require.NoError(t, err)
	require.Equal(t, 5, n, "a fold takes at most its limit")
	check("partly folded")
	FoldAll(t, s)
	check("folded")

	now, until := queueBase.Add(2*time.Hour), queueBase.Add(3*time.Hour)
	claimed, err := s.ClaimExecutions(ctx, "w2", now, until, 100, false) // pending → running
	require.NoError(t, err)
	require.NotEmpty(t, claimed)
	_, _, err = s.RequestCancel(ctx, byStatus[flow.ExecWaiting][0], now) // waiting → cancelled
	require.NoError(t, err)
	_, err = s.Requeue(ctx, byStatus[flow.ExecFailed][0], "w2", now, until) // failed → running
	require.NoError(t, err)
	require.NoError(t, s.ParkExecution(ctx, "w2", claimed[0], now))                   // running → waiting
	woken, err := s.WakeExecution(ctx, byStatus[flow.ExecWaiting][1], "", now, until) // waiting → pending
	require.NoError(t, err)
	require.True(t, woken)
	check("status changed, not folded")
	FoldAll(t, s)
	check("status changed, folded")

	deleted, err := s.DeleteExecutions(ctx, append(byStatus[flow.ExecCompleted], byStatus[flow.ExecCancelled]...))
	require.NoError(t, err)
	require.Positive(t, deleted)
	check("deleted, not folded")
	FoldAll(t, s)
	check("deleted, folded")
	n, err = s.FoldExecutionCounts(ctx, 1000)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to fold")
}

// testCountRollupsBeforeEpoch: a slot before 1970 is the one its start
// falls in (Unix seconds divided rounding down, as the rollups key it),
// not the one a division rounding toward zero gives: an edge 14 minutes
// before the epoch is in the slot starting at 23:45, not at 00:00.
func testCountRollupsBeforeEpoch(t *testing.T, s store.Store) {
	ctx := context.Background()
	wf := uuid.New()
	epoch := time.Unix(0, 0).UTC()
	at := func(d string) time.Time {
		dur, err := time.ParseDuration(d)
		require.NoError(t, err)
		return epoch.Add(dur)
	}
	var ids []uuid.UUID
	for _, d := range []string{"-20m", "-16m", "-15m", "-10m", "-5m", "-1us", "0s", "5m"} {
		e := Execution(wf, flow.ExecCompleted, at(d), "", queueBase)
		createAll(t, s, e)
		ids = append(ids, e.ID)
	}
	check := func(stage string) {
		t.Helper()
		raw := rawExecutions(t, s, ids)
		for _, r := range [][2]string{{"-14m", "-1m"}, {"-15m", "-1m"}, {"-20m", "10m"}, {"-25m", "-16m"},
			{"-14m", "14m"}, {"-16m", "-14m"}, {"-30m", "0s"}} {
			from, to := at(r[0]), at(r[1])
			for _, w := range []*uuid.UUID{nil, &wf} {
				slots, err := s.CountExecutionsBySlot(ctx, from, to, w)
				require.NoError(t, err)
				require.Equal(t, rawBySlot(raw, from, to, w), slots, "%s: slots [%s, %s) of %v", stage, r[0], r[1], w)
			}
			got, err := s.CountExecutionsByStatus(ctx, &from, &to, "")
			require.NoError(t, err)
			require.Equal(t, rawByStatus(raw, &from, &to, ""), got, "%s: [%s, %s]", stage, r[0], r[1])
		}
	}
	check("not folded")
	FoldAll(t, s)
	check("folded")
}

// testCountRollupsNow: ranges ending in the current slot (counted whole,
// minus what started after the range's end) and beginning a day before
// (either side of the bound), folded or not: the counts equal a count of
// the executions themselves, including those started after the end but
// before now, and one in the future.
func testCountRollupsNow(t *testing.T, s store.Store) {
	ctx := context.Background()
	wf := uuid.New()
	now := time.Now().UTC()
	var ids []uuid.UUID
	for i, d := range []time.Duration{-25 * time.Hour, -24*time.Hour - time.Second, -24*time.Hour + time.Second,
		-time.Hour, -flow.SlotWidth, -time.Minute, -time.Second, -time.Millisecond, time.Minute} {
		st := []flow.ExecutionStatus{flow.ExecCompleted, flow.ExecFailed, flow.ExecWaiting}[i%3]
		e := Execution(wf, st, now.Add(d), "", queueBase)
		createAll(t, s, e)
		ids = append(ids, e.ID)
	}
	check := func(stage string) {
		t.Helper()
		raw := rawExecutions(t, s, ids)
		for _, end := range []time.Duration{0, -time.Millisecond / 2, -30 * time.Second, -2 * time.Minute, time.Hour} {
			from, to := now.Add(-24*time.Hour+end), now.Add(end)
			got, err := s.CountExecutionsByStatus(ctx, &from, &to, "")
			require.NoError(t, err)
			require.Equal(t, rawByStatus(raw, &from, &to, ""), got, "%s: [now-24h%v, now%v]", stage, end, end)
			for _, w := range []*uuid.UUID{nil, &wf} {
				slots, err := s.CountExecutionsBySlot(ctx, from, to, w)
				require.NoError(t, err)
				require.Equal(t, rawBySlot(raw, from, to, w), slots, "%s: slots [now-24h%v, now%v) of %v", stage, end, end, w)
			}
		}
	}
	check("not folded")
	FoldAll(t, s)
	check("folded")
}

// testCountRollupsConcurrent: executions inserted and finished by several
// writers while several folders fold: every change is counted once.
func testCountRollupsConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	wf := uuid.New()
	const writers, each = 4, 25
	var ids []uuid.UUID
	var mu sync.Mutex
	var wg, folders sync.WaitGroup
	done := make(chan struct{})
	for range 2 {
		folders.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				n, err := s.FoldExecutionCounts(ctx, 7)
				if err != nil && !store.Transient(err) {
					t.Error(err)
					return
				}
				if n == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	for w := range writers {
		wg.Go(func() {
			owner := fmt.Sprintf("writer-%d", w)
			for i := range each {
				started := queueBase.Add(time.Duration(w*each+i) * 7 * time.Minute)
				e := Execution(wf, flow.ExecRunning, started, owner, queueBase.Add(time.Hour))
				if err := s.CreateExecution(ctx, e); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids = append(ids, e.ID)
				mu.Unlock()
				finished := *e
				finished.Status, finished.CompletedAt = flow.ExecCompleted, &started
				if i%3 == 0 {
					finished.Status = flow.ExecFailed
				}
				if err := s.SaveProgress(ctx, owner, &finished, nil, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	folders.Wait()
	FoldAll(t, s)
	raw := rawExecutions(t, s, ids)
	all, err := s.CountExecutionsByStatus(ctx, nil, nil, "")
	require.NoError(t, err)
	require.Equal(t, rawByStatus(raw, nil, nil, ""), all)
	require.Equal(t, map[flow.ExecutionStatus]int64{flow.ExecCompleted: 64, flow.ExecFailed: 36}, all)
	from, to := queueBase.Add(-time.Hour), queueBase.Add(24*time.Hour)
	slots, err := s.CountExecutionsBySlot(ctx, from, to, &wf)
	require.NoError(t, err)
	require.Equal(t, rawBySlot(raw, from, to, &wf), slots)
}

// testRetentionDeletes: only finished executions completed before the
// cutoff are selected, oldest first; deleting takes their steps, waits,
// decisions and signals, and never touches an unfinished execution, even
// one whose completion time is in the past.
func testRetentionDeletes(t *testing.T, s store.Store) {
	ctx := context.Background()
	wf := uuid.New()
	old := queueBase.Add(-400 * 24 * time.Hour)
	cutoff := queueBase.Add(-30 * 24 * time.Hour)
	completed := Execution(wf, flow.ExecCompleted, old.Add(2*time.Hour), "", time.Time{})
	failed := Execution(wf, flow.ExecFailed, old, "", time.Time{})
	cancelled := Execution(wf, flow.ExecCancelled, old.Add(time.Hour), "", time.Time{})
	recent := Execution(wf, flow.ExecCompleted, cutoff, "", time.Time{}) // completes a second after the cutoff
	pending := Execution(wf, flow.ExecPending, old, "", time.Time{})
	running := Execution(wf, flow.ExecRunning, old, "w1", queueBase.Add(time.Hour))
	waiting := Execution(wf, flow.ExecRunning, old, "w1", queueBase.Add(time.Hour))
	createAll(t, s, completed, failed, cancelled, recent, pending, running, waiting)
	withChildren := func(e *flow.Execution, status flow.ExecutionStatus) {
		step := flow.Step{ExecutionID: e.ID, Number: 1, NodeID: "n", Name: "N", Status: flow.StepCompleted,
			StartedAt: old, CompletedAt: old}
		progress := *e
		progress.Status, progress.CompletedAt = status, &old // a waiting one with a stray completion time too
		err := s.SaveProgress(ctx, "w1", &progress, []flow.Step{step}, nil)
		require.NoError(t, err)
		review := openWait(e, "r", flow.NodeReview, old, nil)
		require.NoError(t, s.SaveWaits(ctx, []flow.Wait{review}))
		require.NoError(t, s.AddDecision(ctx, review.ID, flow.Decision{Decision: "approve", ActorType: "user",
			ActorID: "alice", DecidedAt: old}))
		require.NoError(t, s.AddSignal(ctx, &flow.Signal{ExecutionID: e.ID, Name: "cb", Source: "api",
			ActorType: "user", ActorID: "alice", ReceivedAt: old}))
	}
	withChildren(running, flow.ExecCompleted)
	withChildren(waiting, flow.ExecWaiting)
	done := getExecution(t, s, running.ID) // completed now, at old

	// ExecutionRecords: what the single-execution lists say, for many at once.
	order := []uuid.UUID{waiting.ID, completed.ID, running.ID, uuid.New()}
	var seen []uuid.UUID
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		return tx.ExecutionRecords(ctx, order, func(id uuid.UUID, steps []flow.Step, ws []flow.Wait, sigs []flow.Signal) error {
			seen = append(seen, id)
			wantSteps, err1 := s.ListSteps(ctx, id)
			wantWaits, err2 := s.ListWaits(ctx, id)
			wantSigs, err3 := s.ListSignals(ctx, id)
			require.NoError(t, errors.Join(err1, err2, err3))
			require.Equal(t, wantSteps, steps, "steps of %s", id)
			require.Equal(t, wantWaits, ws, "waits of %s", id)
			require.Equal(t, wantSigs, sigs, "signals of %s", id)
			return nil
		})
	}))
	require.Equal(t, order, seen, "each id, in order")

	var got []uuid.UUID
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		es, err := tx.FinishedExecutionsBefore(ctx, cutoff, 10)
		for _, e := range es {
			got = append(got, e.ID)
		}
		return err
	}))
	require.Equal(t, []uuid.UUID{done.ID, failed.ID, cancelled.ID, completed.ID}, got, "oldest completion first")
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		es, err := tx.FinishedExecutionsBefore(ctx, cutoff, 2)
		require.Len(t, es, 2)
		return err
	}))

	n, err := s.DeleteExecutions(ctx, append(got, pending.ID, waiting.ID, recent.ID, uuid.New()))
	require.NoError(t, err)
	require.Equal(t, 5, n, "the four selected, and the recent one (finished too)")
	for _, id := range append(got, recent.ID) {
		_, err := s.GetExecution(ctx, id)
		require.ErrorIs(t, err, flow.ErrExecutionNotFound)
	}
	steps, err := s.ListSteps(ctx, done.ID)
	require.NoError(t, err)
	require.Empty(t, steps)
	ws, err := s.ListWaits(ctx, done.ID)
	require.NoError(t, err)
	require.Empty(t, ws)
	sigs, err := s.ListSignals(ctx, done.ID)
	require.NoError(t, err)
	require.Empty(t, sigs)

	for _, e := range []*flow.Execution{pending, waiting} {
		require.Equal(t, e.ID, getExecution(t, s, e.ID).ID, "unfinished: kept")
	}
	steps, err = s.ListSteps(ctx, waiting.ID)
	require.NoError(t, err)
	require.Len(t, steps, 1)
	ws, err = s.ListWaits(ctx, waiting.ID)
	require.NoError(t, err)
	require.Len(t, ws, 1)
	require.Len(t, ws[0].Decisions, 1)
	sigs, err = s.ListSignals(ctx, waiting.ID)
	require.NoError(t, err)
	require.Len(t, sigs, 1)
}

// testTryLock: a named lock is held until its transaction ends; on
// PostgreSQL another transaction is refused it meanwhile (SQLite's
// single writer excludes the other transaction itself).
func testTryLock(t *testing.T, s store.Store) {
	ctx := context.Background()
	holding, release := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.InTx(ctx, func(tx store.Tx) error {
			ok, err := tx.TryLock(ctx, "retention")
			if err != nil || !ok {
				return errors.Join(err, errors.New("the first TryLock must succeed"))
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	if s.Driver() == "postgresql" {
		require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
			ok, err := tx.TryLock(ctx, "retention")
			require.False(t, ok, "held by the other transaction")
			if err == nil {
				ok, err = tx.TryLock(ctx, "another-name")
				require.True(t, ok, "another name is another lock")
			}
			return err
		}))
	}
	close(release)
	require.NoError(t, <-errc)
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		ok, err := tx.TryLock(ctx, "retention")
		require.True(t, ok, "free once its transaction ended")
		return err
	}))
}

// rawExecution is what the counts are checked against: the row itself.
type rawExecution struct {
	workflow uuid.UUID
	status   flow.ExecutionStatus
	started  time.Time
}

// rawExecutions reads the executions among ids that still exist.
func rawExecutions(t *testing.T, s store.Store, ids []uuid.UUID) []rawExecution {
	t.Helper()
	var out []rawExecution
	for _, id := range ids {
		e, err := s.GetExecution(context.Background(), id)
		if errors.Is(err, flow.ErrExecutionNotFound) {
			continue
		}
		require.NoError(t, err)
		out = append(out, rawExecution{e.WorkflowID, e.Status, e.StartedAt})
	}
	return out
}

// rawByStatus counts as CountExecutionsByStatus promises: from and to inclusive.
func rawByStatus(raw []rawExecution, from, to *time.Time, status flow.ExecutionStatus) map[flow.ExecutionStatus]int64 {
	out := map[flow.ExecutionStatus]int64{}
	for _, e := range raw {
		if (from == nil || !e.started.Before(*from)) && (to == nil || !e.started.After(*to)) &&
			(status == "" || e.status == status) {
			out[e.status]++
		}
	}
	return out
}

// rawBySlot counts as CountExecutionsBySlot promises: [from, to), by slot and status.
func rawBySlot(raw []rawExecution, from, to time.Time, workflow *uuid.UUID) []flow.SlotCount {
	counts := map[flow.SlotCount]int64{}
	for _, e := range raw {
		if !e.started.Before(from) && e.started.Before(to) && (workflow == nil || e.workflow == *workflow) {
			counts[flow.SlotCount{Start: e.started.Truncate(flow.SlotWidth), Status: e.status}]++
		}
	}
	var out []flow.SlotCount
	for k, n := range counts {
		k.Count = n
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b flow.SlotCount) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.Status, b.Status)
	})
	return out
}

// RunCountsBackfill checks migration 00006's backfill: raw is a database
// migrated up to version 5; executions inserted there are counted by the
// rollups as soon as open (which migrates the rest) returns, with nothing
// left to fold.
func RunCountsBackfill(t *testing.T, raw *sql.DB, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 10, 24, 23, 0, 0, 0, time.UTC)
	wf, other := uuid.New(), uuid.New()
	var ids []uuid.UUID
	for i := range 40 {
		id, w := uuid.New(), wf
		if i%3 == 0 {
			w = other
		}
		status := []flow.ExecutionStatus{flow.ExecCompleted, flow.ExecFailed, flow.ExecRunning, flow.ExecWaiting}[i%4]
		started := base.Add(time.Duration(i) * 7 * time.Minute).Add(time.Duration(i) * time.Microsecond)
		_, err := raw.ExecContext(ctx, `INSERT INTO executions (id, workflow_id, workflow_revision, trigger_node_id,
			status, input, started_at, updated_at) VALUES ($1, $2, 1, 't', $3, '{}', $4, $4)`,
			id.String(), w.String(), string(status), started.Format("2006-01-02T15:04:05.000000Z"))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	s := open(t)
	n, err := s.FoldExecutionCounts(ctx, 1000)
	require.NoError(t, err)
	require.Zero(t, n, "the backfill wrote the rollups themselves")
	raws := rawExecutions(t, s, ids)
	to := base.Add(6 * time.Hour)
	for _, from := range []time.Time{base.Add(-24 * time.Hour), base.Add(30 * time.Minute), base.Add(61 * time.Minute)} {
		got, err := s.CountExecutionsByStatus(ctx, &from, &to, "")
		require.NoError(t, err)
		require.Equal(t, rawByStatus(raws, &from, &to, ""), got)
		for _, w := range []*uuid.UUID{nil, &wf} {
			slots, err := s.CountExecutionsBySlot(ctx, from, to, w)
			require.NoError(t, err)
			require.Equal(t, rawBySlot(raws, from, to, w), slots)
		}
	}
	all, err := s.CountExecutionsByStatus(ctx, nil, nil, "")
	require.NoError(t, err)
	require.Equal(t, map[flow.ExecutionStatus]int64{flow.ExecCompleted: 10, flow.ExecFailed: 10, flow.ExecRunning: 10,
		flow.ExecWaiting: 10}, all)
}
