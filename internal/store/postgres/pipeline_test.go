package postgres

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestGroupCommitRoundTrips: a group commit's writes travel together. A
// progress write with its audit event is two round trips, however many
// callers share the batch: BEGIN, the update, the steps, the audit lock
// and the chain's head; then the events, sealed in Go with the chain's
// key, and COMMIT. The steps of all its callers are few statements: one
// per power of two in their count. A progress write alone is one round
// trip: the server checks its lease.
func TestGroupCommitRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sql.Open("pgx", storetest.PostgresURL(t))
	require.NoError(t, err)
	d := dialect(nil)
	var mu sync.Mutex
	var sent [][]string // each round trip's statements
	d.Pipeline = func(ctx context.Context, c *sql.Conn, stmts []sqlstore.Pipelined) error {
		var sqls []string
		for _, st := range stmts {
			sqls = append(sqls, st.SQL)
		}
		mu.Lock()
		sent = append(sent, sqls)
		mu.Unlock()
		return pipeline(ctx, c, stmts)
	}
	s, err := sqlstore.Open(ctx, db, db, d)
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	now := time.Now().UTC().Truncate(time.Microsecond)
	save := func(e *flow.Execution) error {
		return s.Batch(ctx, func(tx store.Tx) error {
			st := flow.Step{ExecutionID: e.ID, Number: 1, NodeID: "kyc", Name: "KYC", Status: flow.StepCompleted,
				Attempts: 1, StartedAt: now, CompletedAt: now}
			if err := tx.SaveProgress(ctx, "me", e, []flow.Step{st}, nil); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &audit.Event{ID: uuid.New(), Timestamp: now, EventType: "EXECUTION_COMPLETED",
				Action: "EXECUTE", Result: "SUCCESS", ResourceType: "execution", ResourceID: e.ID.String()})
		})
	}
	lone := storetest.Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
	require.NoError(t, s.CreateExecution(ctx, lone))
	mu.Lock()
	sent = nil // the create above, outside a batch, ran at once
	mu.Unlock()
	require.NoError(t, save(lone))
	require.Len(t, sent, 2, "%q", sent)
	require.Len(t, sent[0], 5, "%q", sent[0])
	require.Contains(t, sent[0][3], "pg_advisory_xact_lock")
	require.Contains(t, sent[0][4], "FROM audit_events")
	require.Len(t, sent[1], 2, "%q", sent[1])
	require.Contains(t, sent[1][0], "INSERT INTO audit_events")
	require.Equal(t, "COMMIT", sent[1][1])
	mu.Lock()
	sent = nil
	mu.Unlock()
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
		st := flow.Step{ExecutionID: lone.ID, Number: 2, NodeID: "aml", Name: "AML", Status: flow.StepCompleted,
			Attempts: 1, StartedAt: now, CompletedAt: now}
		return tx.SaveProgress(ctx, "me", lone, []flow.Step{st}, nil)
	}))
	require.Len(t, sent, 1, "%q", sent)
	require.Len(t, sent[0], 4, "%q", sent[0])
	require.Equal(t, "BEGIN", sent[0][0])
	require.Contains(t, sent[0][1], "UPDATE executions")
	require.Equal(t, "COMMIT", sent[0][3])

	// The terminal write of an execution a synchronous caller waits for
	// reads it back in the same round trip, before COMMIT: what committed.
	mu.Lock()
	sent = nil
	mu.Unlock()
	var got store.ExecutionResults
	finished := *lone
	finished.Status, finished.CompletedAt = flow.ExecCompleted, &now
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
		st := flow.Step{ExecutionID: lone.ID, Number: 3, NodeID: "ledger", Name: "Ledger", Status: flow.StepCompleted,
			Attempts: 1, StartedAt: now, CompletedAt: now}
		if err := tx.SaveProgress(ctx, "me", &finished, []flow.Step{st}, nil); err != nil {
			return err
		}
		return tx.ReadBackExecution(ctx, lone.ID, &got)
	}))
	require.Len(t, sent, 1, "%q", sent)
	require.Len(t, sent[0], 6, "%q", sent[0])
	require.Contains(t, sent[0][3], "FROM executions")
	require.Contains(t, sent[0][4], "FROM execution_steps")
	require.Equal(t, "COMMIT", sent[0][5])
	want, steps, err := s.ExecutionWithSteps(ctx, lone.ID)
	require.NoError(t, err)
	require.Equal(t, store.ExecutionResults{Execution: want, Steps: steps}, got)
	require.Equal(t, flow.ExecCompleted, got.Execution.Status)
	require.Len(t, got.Steps, 3)

	const callers = 64
	es := make([]*flow.Execution, callers)
	for i := range es {
		es[i] = storetest.Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
		require.NoError(t, s.CreateExecution(ctx, es[i]))
	}
	mu.Lock()
	sent = nil
	mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Go(func() { require.NoError(t, save(e)) })
	}
	wg.Wait()
	// Per batch of k callers: BEGIN, k updates, the steps (one statement
	// per power of two in k), the audit lock, the head; then the callers'
	// events (also one statement per power of two in k), COMMIT.
	saved := 0
	count := func(sqls []string, part string) (n int) {
		for _, s := range sqls {
			if strings.Contains(s, part) {
				n++
			}
		}
		return n
	}
	require.Zero(t, len(sent)%2, "%q", sent)
	for i := 0; i < len(sent); i += 2 {
		batch, sealed := sent[i], sent[i+1]
		k := count(batch, "UPDATE executions")
		require.Equal(t, bits.OnesCount(uint(k)), count(batch, "INSERT INTO execution_steps"), "%q", batch)
		require.Len(t, batch, 1+k+bits.OnesCount(uint(k))+2, "%q", batch)
		require.Contains(t, batch[len(batch)-1], "FROM audit_events")
		require.Len(t, sealed, bits.OnesCount(uint(k))+1, "%q", sealed) // up to 64 events a statement
		for _, insert := range sealed[:len(sealed)-1] {
			require.Contains(t, insert, "INSERT INTO audit_events")
		}
		require.Equal(t, "COMMIT", sealed[len(sealed)-1])
		saved += k
	}
	require.Equal(t, callers, saved)
	require.Less(t, len(sent), callers, "callers shared batches")
}

// A read back of rows the store cannot take in (a number jsonb keeps and
// Go cannot, a time of 'infinity') leaves the caller to read.
func TestReadBackOfRowsNotTakenInCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	s, err := Open(ctx, url, 4)
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	raw, err := sql.Open("pgx", url) // the same schema
	require.NoError(t, err)
	defer raw.Close()
	steps := []string{
		`'{"n": 1e400}', now()`, // output, started_at
		`'{"n": 1}', 'infinity'`,
	}
	storetest.RunReadBackOfRowsNotTakenIn(t, s, len(steps), func(t *testing.T, v int, id uuid.UUID) {
		_, err := raw.ExecContext(ctx, `INSERT INTO execution_steps (execution_id, step_number, node_id, name, status,
			output, started_at, attempts, completed_at) VALUES ($1, 1, 'n', 'N', 'completed', `+steps[v]+`, 1, now())`, id)
		require.NoError(t, err)
	})
}
