package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// commitWaits makes COMMIT itself wait, as it does for a synchronous
// standby: a deferred constraint trigger on workflows takes an advisory
// lock that the returned transaction holds until it is rolled back.
func commitWaits(t *testing.T, raw *sql.DB) (hold *sql.Tx) {
	t.Helper()
	ctx := context.Background()
	key := rand.Int64()
	for _, stmt := range []string{
		fmt.Sprintf(`CREATE FUNCTION wait_at_commit() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN PERFORM pg_advisory_xact_lock(%d); RETURN NULL; END $$`, key),
		`CREATE CONSTRAINT TRIGGER wait_at_commit AFTER INSERT ON workflows
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION wait_at_commit()`,
	} {
		_, err := raw.ExecContext(ctx, stmt)
		require.NoError(t, err)
	}
	hold, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = hold.Rollback() })
	_, err = hold.ExecContext(ctx, fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, key))
	require.NoError(t, err)
	return hold
}

// TestCommitCancelledNotAbandoned: a COMMIT still running when its
// context ends (the batch's deadline, InTx's caller's) is cancelled on the
// server and its answer read, never abandoned with the connection: a
// caller told it failed must find nothing committed once the wait ends.
// The pipelined group commit is covered by TestPipelinedDeadlineNeverCommitsLater;
// this covers the transactions whose statements run when issued.
func TestCommitCancelledNotAbandoned(t *testing.T) {
	t.Parallel()
	const deadline = 2 * time.Second
	t.Run("group commit rerun with savepoints", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		s, raw, app := pipelinedStore(t)
		sqlstore.SetBatchTimeout(s, deadline)
		hold := commitWaits(t, raw)
		release := holdLoop(t, s)
		refused, kept := storetest.Workflow("refused", time.Now()), storetest.Workflow("kept", time.Now())
		errRefused := errors.New("refused by its caller")
		var wg sync.WaitGroup
		var refusedErr, keptErr error
		wg.Go(func() { // fails in the first run: the batch runs again with savepoints
			refusedErr = s.Batch(ctx, func(tx store.Tx) error {
				if err := tx.CreateWorkflow(ctx, refused); err != nil {
					return err
				}
				return errRefused
			})
		})
		wg.Go(func() {
			keptErr = s.Batch(ctx, func(tx store.Tx) error { return tx.CreateWorkflow(ctx, kept) })
		})
		require.Eventually(t, func() bool { return sqlstore.Queued(s) == 2 }, 5*time.Second, time.Millisecond)
		release()
		wg.Wait()
		t.Logf("refused: %v; kept: %v", refusedErr, keptErr)
		require.ErrorIs(t, keptErr, store.ErrUnavailable)
		require.NoError(t, hold.Rollback())
		time.Sleep(500 * time.Millisecond) // what an orphaned backend had received would run now
		for _, w := range []*flow.Workflow{refused, kept} {
			_, err := s.GetWorkflow(ctx, w.ID)
			require.ErrorIs(t, err, flow.ErrWorkflowNotFound, "a caller told ErrUnavailable had its write committed")
		}
		requireHealthyPool(t, s, raw, app)
	})
	t.Run("InTx", func(t *testing.T) {
		t.Parallel()
		s, raw, app := pipelinedStore(t)
		hold := commitWaits(t, raw)
		w := storetest.Workflow("in-tx", time.Now())
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		err := s.InTx(ctx, func(tx store.Tx) error { return tx.CreateWorkflow(ctx, w) })
		t.Logf("InTx: %v", err)
		require.Error(t, err)
		require.NoError(t, hold.Rollback())
		time.Sleep(500 * time.Millisecond)
		_, err = s.GetWorkflow(context.Background(), w.ID)
		require.ErrorIs(t, err, flow.ErrWorkflowNotFound, "a caller told its transaction failed had its write committed")
		requireHealthyPool(t, s, raw, app)
	})
}
