package service_test

// Writes that lose the race for a revision, as they do on PostgreSQL (two
// transactions read the same revision; the later conditional write finds
// none). SQLite serialises writers, so these paths are forced here by a
// store whose conditional writes lose a given number of times: a blind
// write is applied again (as SQLite would apply it: last writer wins), a
// conditional one (If-Match) fails its precondition.

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
)

// racingStore makes the next `lose` conditional writes fail as lost races.
type racingStore struct {
	store.Store
	lose   atomic.Int32
	writes atomic.Int32 // conditional writes attempted
}

func (s *racingStore) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error { return fn(racingTx{Tx: tx, s: s}) })
}

type racingTx struct {
	store.Tx
	s *racingStore
}

func (t racingTx) lost() bool {
	t.s.writes.Add(1)
	return t.s.lose.Add(-1) >= 0
}

func (t racingTx) UpdateWorkflow(ctx context.Context, w *flow.Workflow, prev int) error {
	if t.lost() {
		return flow.ErrStateChanged
	}
	return t.Tx.UpdateWorkflow(ctx, w, prev)
}

func (t racingTx) DeleteWorkflow(ctx context.Context, id uuid.UUID, prev int) error {
	if t.lost() {
		return flow.ErrStateChanged
	}
	return t.Tx.DeleteWorkflow(ctx, id, prev)
}

func (t racingTx) UpdateProviderConfig(ctx context.Context, p *flow.ProviderConfig, prev int) error {
	if t.lost() {
		return flow.ErrStateChanged
	}
	return t.Tx.UpdateProviderConfig(ctx, p, prev)
}

func newRacing(t *testing.T) (*service.Service, *racingStore) {
	t.Helper()
	rs := &racingStore{Store: openSQLite(t)}
	return newTestService(t, rs), rs
}

func requireCode(t *testing.T, err error, kind flow.Kind, code string) {
	t.Helper()
	var fe *flow.Error
	require.ErrorAs(t, err, &fe)
	require.Equal(t, code, fe.Code, fe.Message)
	require.Equal(t, kind, fe.Kind, fe.Message)
}

func TestLostRaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, rs := newRacing(t)
	w, err := svc.CreateWorkflow(ctx, flow.Definition{Name: "raced"})
	require.NoError(t, err)
	def := func(desc string) flow.Definition { return flow.Definition{Name: "raced", Description: desc} }

	// Blind: lost twice, applied on the third attempt, once.
	rs.lose.Store(2)
	got, err := svc.UpdateWorkflow(ctx, w.ID, def("blind"))
	require.NoError(t, err)
	require.Equal(t, 2, got.Revision)
	require.Equal(t, int32(3), rs.writes.Swap(0))

	// Conditional: the revision matched when read, the race was lost after: 412.
	rs.lose.Store(1)
	_, err = svc.UpdateWorkflow(service.WithPrecondition(ctx, service.Precondition{Revisions: []int{2}, IfMatch: `"2"`}),
		w.ID, def("conditional"))
	requireCode(t, err, flow.KindPrecondition, flow.CodePrecondition)
	require.Contains(t, err.Error(), "changed concurrently")
	require.Equal(t, int32(1), rs.writes.Swap(0), "a conditional write is not retried")

	// A stale If-Match fails before writing anything.
	_, err = svc.UpdateWorkflow(service.WithPrecondition(ctx, service.Precondition{Revisions: []int{1}, IfMatch: `"1"`}),
		w.ID, def("stale"))
	requireCode(t, err, flow.KindPrecondition, flow.CodePrecondition)
	require.Equal(t, int32(0), rs.writes.Swap(0))

	// A blind write that keeps losing gives up: 409, as before.
	rs.lose.Store(1000)
	_, err = svc.UpdateWorkflow(ctx, w.ID, def("hopeless"))
	requireCode(t, err, flow.KindConflict, flow.CodeStateChanged)
	require.Equal(t, int32(16), rs.writes.Swap(0))
	rs.lose.Store(0)

	// Only the blind write applied.
	cur, err := svc.GetWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, "blind", cur.Description)
	require.Equal(t, 2, cur.Revision)

	// Deletes and provider configurations take the same path.
	rs.lose.Store(1)
	require.NoError(t, svc.DeleteWorkflow(ctx, w.ID))
	pc, err := svc.CreateProviderConfig(ctx, flow.ProviderConfig{Name: "p", ProviderID: "http",
		Config: map[string]any{"base_url": "https://x.example"}})
	require.NoError(t, err)
	rs.lose.Store(3)
	out, err := svc.SetProviderConfigStatus(ctx, pc.ID, flow.ConfigDisabled)
	require.NoError(t, err)
	require.Equal(t, flow.ConfigDisabled, out.Status)
	require.Equal(t, 2, out.Revision)
}
