package storetest

import (
	"context"
	"database/sql"
	"testing"

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

// BenchDashboard measures the execution summary over all rows and over one
// month, the dashboards' queries.
func BenchDashboard(b *testing.B, s store.Store) {
	ctx := context.Background()
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.CountExecutionsByStatus(ctx, nil, nil, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	from, to := mustTime("2026-03-01T00:00:00Z"), mustTime("2026-03-31T23:59:59Z")
	b.Run("one-month", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.CountExecutionsByStatus(ctx, &from, &to, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("workflows", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.CountWorkflowsByStatus(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
