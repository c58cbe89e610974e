package postgres

import (
	"context"
	"database/sql"
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
// progress write with its audit event is three round trips — BEGIN, the
// update, the steps, the audit lock and the chain's head; the event;
// COMMIT, alone — however many callers share the batch.
func TestGroupCommitRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sql.Open("pgx", storetest.PostgresURL(t))
	require.NoError(t, err)
	d := dialect(nil)
	var mu sync.Mutex
	var sent []int // statements per round trip
	d.Pipeline = func(ctx context.Context, c *sql.Conn, stmts []sqlstore.Pipelined) error {
		mu.Lock()
		sent = append(sent, len(stmts))
		mu.Unlock()
		return pipeline(ctx, c, stmts)
	}
	s, err := sqlstore.Open(ctx, db, db, d)
	require.NoError(t, err)
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
	require.Equal(t, []int{5, 1, 1}, sent)

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
	// Per batch of k callers: BEGIN, 2k (update, steps), audit lock and
	// head; then the events (a few multi-row statements); then COMMIT.
	require.Zero(t, len(sent)%3, "three round trips a batch: %v", sent)
	saved := 0
	for i := 0; i < len(sent); i += 3 {
		require.Zero(t, (sent[i]-3)%2, "first round trip of a batch: %v", sent)
		saved += (sent[i] - 3) / 2
		require.Positive(t, sent[i+1], "%v", sent)
		require.Equal(t, 1, sent[i+2], "COMMIT travels alone: %v", sent)
	}
	require.Equal(t, callers, saved, "%v", sent)
	require.Less(t, len(sent)/3, callers, "callers shared batches: %v", sent)
}
