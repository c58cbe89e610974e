package postgres_test

import (
	"context"
	"net"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/storetest"
)

func requireUnavailable(t *testing.T, err error, what string) {
	t.Helper()
	require.ErrorIs(t, err, store.ErrUnavailable, what)
	require.True(t, store.Transient(err), what)
	require.Equal(t, flow.KindUnavailable, flow.KindOf(err), "%s: answered 503, not 500", what)
}

// TestUnreachable: a server nobody listens for is ErrUnavailable at Open.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = postgres.Open(context.Background(), "postgres://postgres@"+addr+"/postgres?sslmode=disable&connect_timeout=5", 2)
	requireUnavailable(t, err, "open")
}

// TestServerGoesAway: once the database cannot be reached (connections cut,
// new ones refused), every kind of call answers ErrUnavailable, transient.
func TestServerGoesAway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u, err := url.Parse(storetest.PostgresURL(t))
	require.NoError(t, err)
	p := storetest.StartProxy(t, u.Host)
	u.Host = p.Addr
	s, err := postgres.Open(ctx, u.String(), 4)
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	w := storetest.Workflow("before", storetest.NewClock().Now())
	require.NoError(t, s.CreateWorkflow(ctx, w))

	p.Cut()
	calls := []struct {
		name string
		call func() error
	}{
		{"GetWorkflow", func() error { _, err := s.GetWorkflow(ctx, w.ID); return err }},
		{"ListWorkflows", func() error {
			_, err := s.ListWorkflows(ctx, flow.WorkflowFilter{Page: flow.PageRequest{Limit: 5, SortBy: "name"}})
			return err
		}},
		{"CreateWorkflow", func() error { return s.CreateWorkflow(ctx, storetest.Workflow("during", w.CreatedAt)) }},
		{"InTx", func() error {
			return s.InTx(ctx, func(tx store.Tx) error { _, err := tx.GetWorkflow(ctx, w.ID); return err })
		}},
		{"Batch", func() error {
			return s.Batch(ctx, func(tx store.Tx) error { return tx.CreateWorkflow(ctx, storetest.Workflow("b", w.CreatedAt)) })
		}},
		{"AppendAudit", func() error {
			return s.InTx(ctx, func(tx store.Tx) error {
				return tx.AppendAudit(ctx, &audit.Event{ID: uuid.New(), Timestamp: w.CreatedAt, EventType: "X"})
			})
		}},
		{"ClaimExecutions", func() error {
			_, err := s.ClaimExecutions(ctx, "me", w.CreatedAt, w.CreatedAt, 5, true)
			return err
		}},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, c := range calls {
		requireUnavailable(t, c.call(), c.name)
	}
}

// TestDataException: a value the server refuses as data (SQLSTATE class
// 22) that the shared checks do not cover — here a NUL in a lease owner,
// never user data — is ErrUnstorable (400), permanent, not an opaque 500.
func TestDataException(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := postgres.Open(ctx, storetest.PostgresURL(t), 2)
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	now := storetest.NewClock().Now()
	_, err = s.ClaimExecutions(ctx, "owner\x00", now, now, 1, true)
	require.ErrorIs(t, err, store.ErrUnstorable)
	require.Equal(t, flow.KindInvalid, flow.KindOf(err))
	require.False(t, store.Transient(err))
	require.ErrorContains(t, err, "the database refused a value")
	require.ErrorContains(t, err, "SQLSTATE 22021")
}
