package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// TestDropBeforeCommitSentIsNotUnknown: a batch whose statements are
// new on its connection is sent in two round trips: pgx first prepares
// them (Parse/Describe/Sync) and waits for that answer, then sends the
// statements with COMMIT. The connection drops during the first: COMMIT
// was never sent, nothing can have committed, and the caller is not told
// its outcome is unknown (found by a review: it was, and the engine ended
// its attempt instead of retrying the write in place).
func TestDropBeforeCommitSentIsNotUnknown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct, proxy, s := proxiedStore(t)
	e := pipelinedExec(t, s, "me") // no progress write yet: its statements are not prepared

	proxy.HoldReplies()
	done := make(chan error, 1)
	go func() {
		done <- s.Batch(ctx, func(tx store.Tx) error {
			return tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil)
		})
	}()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.True(t, proxy.WaitFor(wctx, func(held, _ int) bool { return held > 0 }), "the prepare's answer held")
	proxy.Drop()
	proxy.ReleaseReplies()
	select {
	case err := <-done:
		steps, lerr := direct.ListSteps(ctx, e.ID)
		require.NoError(t, lerr)
		require.Empty(t, steps, "nothing was committed (COMMIT was never sent)")
		require.ErrorIs(t, err, store.ErrUnavailable)
		require.NotErrorIs(t, err, store.ErrOutcomeUnknown, "COMMIT was never sent: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("never answered")
	}
}
