package sqlstore_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestPipelinedFrozenServer: a progress write alone travels with COMMIT;
// the server stops answering as it is sent (and its cancel request is lost
// too). The caller is answered ErrUnavailable, its outcome unknown, soon
// after the batch's deadline and the grace a round trip carrying COMMIT is
// given (not never: found by a review, when the grace did not apply), and
// Close returns.
func TestPipelinedFrozenServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, proxy, s := proxiedStore(t)
	const deadline = time.Second
	sqlstore.SetBatchTimeout(s, deadline)
	sqlstore.SetCloseGrace(s, 200*time.Millisecond)
	warm := pipelinedExec(t, s, "me") // its statements prepared: COMMIT goes out with the batch's first round trip
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, "me", warm, []flow.Step{pipelinedStep(warm, 1)}, nil)
	}))
	e := pipelinedExec(t, s, "me")

	start := time.Now()
	done := make(chan error, 1)
	go func() {
		done <- s.Batch(ctx, func(tx store.Tx) error {
			proxy.Freeze() // the batch's connection is held: its round trip goes nowhere
			return tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil)
		})
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, store.ErrUnavailable)
		require.ErrorIs(t, err, store.ErrOutcomeUnknown, "its COMMIT went out: it may have run")
	case <-time.After(deadline + 15*time.Second):
		t.Fatal("a batch whose server stopped answering was never answered")
	}
	require.Less(t, time.Since(start), deadline+10*time.Second)
	closed := make(chan struct{})
	go func() { _ = s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked")
	}
}

// TestLostCommitAnswerIsTold: a batch's COMMIT runs on the server and the
// connection drops before its answer arrives. The caller cannot know it
// committed, and is told so — ErrOutcomeUnknown, also ErrUnavailable —
// rather than a plain unavailable database, after which the same writes
// look safe to send again (they are not: the step's row is there).
func TestLostCommitAnswerIsTold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct, proxy, s := proxiedStore(t)
	warm := pipelinedExec(t, s, "me") // its statements prepared: the batch below is one round trip
	require.NoError(t, s.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, "me", warm, []flow.Step{pipelinedStep(warm, 1)}, nil)
	}))
	e := pipelinedExec(t, s, "me")

	proxy.HoldReplies()
	done := make(chan error, 1)
	go func() {
		done <- s.Batch(ctx, func(tx store.Tx) error {
			return tx.SaveProgress(ctx, "me", e, []flow.Step{pipelinedStep(e, 1)}, nil)
		})
	}()
	require.Eventually(t, func() bool { // committed, as seen by another connection
		steps, err := direct.ListSteps(ctx, e.ID)
		return err == nil && len(steps) == 1
	}, 10*time.Second, 5*time.Millisecond)
	proxy.Drop()
	proxy.ReleaseReplies()
	select {
	case err := <-done:
		require.ErrorIs(t, err, store.ErrOutcomeUnknown)
		require.ErrorIs(t, err, store.ErrUnavailable)
	case <-time.After(15 * time.Second):
		t.Fatal("a batch whose connection dropped was never answered")
	}

	// An answer that arrives is no unknown outcome, even a refusal.
	err := s.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, "someone else", e, nil, nil)
	})
	require.ErrorIs(t, err, store.ErrLeaseLost)
	require.NotErrorIs(t, err, store.ErrOutcomeUnknown)
}

// proxiedStore opens a fresh PostgreSQL database twice: directly, and as a
// store of one connection through a proxy the test controls.
func proxiedStore(t *testing.T) (direct *postgres.Store, proxy *storetest.Proxy, s *sqlstore.DB) {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(storetest.PostgresURL(t))
	require.NoError(t, err)
	direct, err = postgres.Open(ctx, u.String(), 1)
	require.NoError(t, err)
	direct.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = direct.Close() })
	proxy = storetest.StartProxy(t, u.Host)
	u.Host = proxy.Addr
	ps, err := postgres.Open(ctx, u.String(), 1)
	require.NoError(t, err)
	ps.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = ps.Close() })
	return direct, proxy, ps.DB
}
