package postgres_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/storetest"
)

func lockEvent() *audit.Event {
	return &audit.Event{ID: uuid.New(), Timestamp: time.Now().UTC(), EventType: "EXECUTION_STARTED",
		Action: "EXECUTE", Result: "SUCCESS", ResourceType: "execution", ResourceID: uuid.NewString(),
		Actor: audit.Actor{Type: "api_key", ID: "ci"}}
}

// TestCoalescedInsertLockOrder: coalesced inserts still run before the
// batch takes the audit lock, as every writer does. Process B inserts an
// execution with key K (uncommitted), then takes the audit lock to commit,
// as StartExecution does; process A's group commit holds two such callers,
// one with key K. A's inserts wait for B, B commits, and only A's caller
// of K fails. Sent after A took the audit lock (the first version of
// coalescing), A waited for B on the unique index and B for A on the
// lock: a deadlock, and every caller of A's batch failed.
func TestCoalescedInsertLockOrder(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	a, err := postgres.Open(ctx, url, 8)
	require.NoError(t, err)
	a.UseAuditKey(storetest.AuditKey)
	defer a.Close()
	b, err := postgres.Open(ctx, url, 8) // a second process on the same database
	require.NoError(t, err)
	b.UseAuditKey(storetest.AuditKey)
	defer b.Close()
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer raw.Close()

	now := time.Now().UTC().Truncate(time.Microsecond)
	wf := uuid.New()
	keyed := func(key string) *flow.Execution {
		e := storetest.Execution(wf, flow.ExecPending, now, "", time.Time{})
		e.IdempotencyKey, e.RequestHash = key, "h"
		return e
	}
	waiting := func() int { // backends of this database waiting for a lock
		var n int
		require.NoError(t, raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted
			AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`).Scan(&n))
		return n
	}

	// B: insert K, wait until A is blocked on it, then append audit and commit.
	inserted := make(chan struct{})
	var errB error
	var wg sync.WaitGroup
	wg.Go(func() {
		errB = b.Batch(ctx, func(tx store.Tx) error { // a lone caller of B's group commit
			if err := tx.CreateExecution(ctx, keyed("K")); err != nil {
				return err
			}
			if _, err := tx.FindExecutionByKey(ctx, wf, "K"); err != nil { // sends the insert now
				return err
			}
			close(inserted)
			deadline := time.Now().Add(5 * time.Second)
			for waiting() == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			return tx.AppendAudit(ctx, lockEvent())
		})
	})
	<-inserted

	// A: hold the batch loop so the two callers below share the next batch.
	release := make(chan struct{})
	wg.Go(func() { _ = a.Batch(ctx, func(store.Tx) error { <-release; return nil }) })
	time.Sleep(100 * time.Millisecond)
	start := func(e *flow.Execution, out *error) {
		wg.Go(func() {
			*out = a.Batch(ctx, func(tx store.Tx) error {
				if err := tx.CreateExecution(ctx, e); err != nil {
					return err
				}
				return tx.AppendAudit(ctx, lockEvent())
			})
		})
	}
	var errDup, errFresh error
	start(keyed("K"), &errDup)
	start(keyed("other"), &errFresh)
	time.Sleep(200 * time.Millisecond) // both queued behind the held batch
	close(release)
	wg.Wait()

	t.Logf("B: %v; A dup: %v; A fresh: %v", errB, errDup, errFresh)
	assert.NoError(t, errB, "process B's own insert")
	assert.ErrorIs(t, errDup, store.ErrDuplicateIdempotencyKey, "the duplicate fails its own caller only")
	assert.NoError(t, errFresh, "an unrelated caller of the same batch is not failed")
}
