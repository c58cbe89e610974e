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
// too). The caller is answered ErrUnavailable soon after the batch's
// deadline and the grace a round trip carrying COMMIT is given (not never:
// found by a review, when the grace did not apply), and Close returns.
func TestPipelinedFrozenServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u, err := url.Parse(storetest.PostgresURL(t))
	require.NoError(t, err)
	migrated, err := postgres.Open(ctx, u.String(), 1)
	require.NoError(t, err)
	require.NoError(t, migrated.Close())
	proxy := storetest.StartProxy(t, u.Host)
	u.Host = proxy.Addr
	ps, err := postgres.Open(ctx, u.String(), 3)
	require.NoError(t, err)
	s := ps.DB
	const deadline = time.Second
	sqlstore.SetBatchTimeout(s, deadline)
	sqlstore.SetCloseGrace(s, 200*time.Millisecond)
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
	case <-time.After(deadline + 15*time.Second):
		t.Fatal("a batch whose server stopped answering was never answered")
	}
	require.Less(t, time.Since(start), deadline+10*time.Second)
	closed := make(chan struct{})
	go func() { _ = ps.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked")
	}
}
