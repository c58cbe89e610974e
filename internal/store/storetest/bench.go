package storetest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// BenchAuditAppend measures appending audit events, each in its own
// transaction, from `writers` goroutines at once (b.SetParallelism).
func BenchAuditAppend(b *testing.B, s store.Store, writers int) {
	ctx := context.Background()
	b.SetParallelism(max(1, writers/max(1, testingCPUs())))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			e := auditEvent(i)
			if err := s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// SeedExecutions inserts n executions spread over statuses and a year of
// start times, in one statement (generate is the dialect's row generator).
func SeedExecutions(b *testing.B, raw *sql.DB, insert string) {
	b.Helper()
	if _, err := raw.ExecContext(context.Background(), insert); err != nil {
		b.Fatal(err)
	}
}

// BusyEdgeStart is a slot's start, as an SQL literal (see BenchDashboard).
const BusyEdgeStart = "'" + busyEdgeStart + "'"

const busyEdgeStart = "2026-06-15T12:00:00Z"

// BenchDashboard measures the dashboards' queries: the execution summary
// over all rows, one month, 30 days and 24 hours (edges inside slots, so
// every part of the rollup read runs), the series over 30 days and 24
// hours (all workflows and one), and the workflow summary. It first folds
// the count changes the seed's inserts left, as the history loop would.
//
// The seed also puts 20,000 executions in the first 400 s after
// BusyEdgeStart (a busy slot, as the current one is under load): the
// busy-edge ranges end 7 minutes into that slot, so they are counted from
// the executions themselves.
func BenchDashboard(b *testing.B, s store.Store) {
	ctx := context.Background()
	FoldAll(b, s)
	from, to := mustTime("2026-03-01T00:00:00Z"), mustTime("2026-03-31T23:59:59Z")
	dayFrom, dayTo := mustTime("2026-03-15T10:07:13.5Z"), mustTime("2026-03-16T10:07:13.5Z")
	monthFrom, monthTo := dayFrom.AddDate(0, 0, -29), dayTo
	wf := uuid.MustParse("00000000-0000-4000-8000-000000000001")
	status := func(from, to *time.Time) func(*testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				if _, err := s.CountExecutionsByStatus(ctx, from, to, ""); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	series := func(from, to time.Time, wf *uuid.UUID) func(*testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				if _, err := s.CountExecutionsBySlot(ctx, from, to, wf); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("all", status(nil, nil))
	b.Run("one-month", status(&from, &to))
	b.Run("status-30d", status(&monthFrom, &monthTo))
	b.Run("status-24h", status(&dayFrom, &dayTo))
	b.Run("series-30d", series(monthFrom, monthTo, nil))
	b.Run("series-30d-workflow", series(monthFrom, monthTo, &wf))
	b.Run("series-24h", series(dayFrom, dayTo, nil))
	busyFrom, busyTo := mustTime(busyEdgeStart).Add(-24*time.Hour+7*time.Minute), mustTime(busyEdgeStart).Add(7*time.Minute)
	b.Run("status-24h-busy-edge", status(&busyFrom, &busyTo))
	b.Run("series-24h-busy-edge", series(busyFrom, busyTo, nil))
	b.Run("series-24h-busy-edge-workflow", series(busyFrom, busyTo, &wf))
	b.Run("workflows", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.CountWorkflowsByStatus(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchExecutionWithSteps measures the read that answers a synchronous
// call: an execution and its three steps, as of one moment.
func BenchExecutionWithSteps(b *testing.B, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background()) // a request's: it can end
	defer cancel()
	now := time.Date(2026, 7, 2, 10, 0, 0, 0, time.UTC)
	e := Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
	if err := s.CreateExecution(ctx, e); err != nil {
		b.Fatal(err)
	}
	e.Status, e.CurrentStep, e.TotalSteps, e.CompletedAt = flow.ExecCompleted, 3, 3, &now
	steps := make([]flow.Step, 3)
	for i := range steps {
		steps[i] = flow.Step{ExecutionID: e.ID, Number: i + 1, NodeID: "node", Name: "Node", Status: flow.StepCompleted,
			Input: map[string]any{"amount": "125.50"}, Output: map[string]any{"decision": "ALLOW", "riskScore": float64(12)},
			Attempts: 1, StartedAt: now, CompletedAt: now}
	}
	if err := s.Batch(ctx, func(tx store.Tx) error { return tx.SaveProgress(ctx, "me", e, steps, nil) }); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, got, err := s.ExecutionWithSteps(ctx, e.ID); err != nil || len(got) != 3 {
			b.Fatal(err, len(got))
		}
	}
}
