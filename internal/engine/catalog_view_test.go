package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/provider/providertest"
	"flowker/internal/store"
)

// A step that starts as soon as the write before it commits looks the
// catalog up as that write's transaction read it (store.Tx.ReadCatalogView):
// on PostgreSQL, no read of the catalog counter of its own. The first step
// uses the view the insert filled when it is handed over with one, and not
// one older than Options.CatalogViewMaxAge (long here: a race build's
// commits are slow).
func TestStepLookupsUseTheCatalogReadWithTheirWrite(t *testing.T) {
	env := newPostgresEnv(t, func(o *Options) { o.CatalogViewMaxAge = time.Minute })
	ctx := context.Background()
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNode("b", "/b", nil)},
		linkTA, link("a", "b"))
	var mu sync.Mutex
	var viewed []bool // per lookup: made under a catalog view
	env.st.Watch("ProviderConfigRevision", func(ctx context.Context) {
		mu.Lock()
		defer mu.Unlock()
		viewed = append(viewed, store.CatalogViewOf(ctx) != nil)
	})
	run := func(view *store.CatalogView) []bool {
		t.Helper()
		mu.Lock()
		viewed = nil
		mu.Unlock()
		ex := env.insert(wf, nil)
		env.eng.DispatchNew(ex, view)
		got, _ := env.await(ex.ID)
		require.Equal(t, flow.ExecCompleted, got.Status, got.ErrorMessage)
		mu.Lock()
		defer mu.Unlock()
		return viewed
	}
	filled := func(queued time.Time) *store.CatalogView {
		t.Helper()
		read := store.NewCatalogView()
		require.NoError(t, env.raw.Batch(ctx, func(tx store.Tx) error { return tx.ReadCatalogView(ctx, read) }))
		require.True(t, read.FilledWithin(time.Minute), "PostgreSQL fills the view")
		gen, _ := read.Generation(nil, nil)
		view := store.NewCatalogView()
		view.Fill(gen, queued)
		return view
	}

	require.Equal(t, []bool{false, true}, run(nil), "the second step uses the progress write's read")
	require.Equal(t, []bool{true, true}, run(filled(time.Now())), "the first, the insert's")
	require.Equal(t, []bool{false, true}, run(filled(time.Now().Add(-time.Hour))), "not one too old")
}

// The read that travels with a step's write comes after it: a
// configuration disabled while the step before was in flight, before that
// step was written, is refused to the next step.
func TestStepLookupsSeeACatalogChangeBeforeTheirWrite(t *testing.T) {
	env := newPostgresEnv(t, nil)
	ctx := context.Background()
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNode("b", "/b", nil)},
		linkTA, link("a", "b"))
	env.fake.HandleFunc("/a", func(providertest.Request) providertest.Response {
		pc, err := env.raw.GetProviderConfig(ctx, env.pc)
		require.NoError(t, err)
		pc.Status, pc.Revision = flow.ConfigDisabled, pc.Revision+1
		require.NoError(t, env.raw.UpdateProviderConfig(ctx, pc, pc.Revision-1))
		return providertest.Response{Body: `{}`}
	})
	ex, steps := env.await(env.start(wf, nil))
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Len(t, steps, 2)
	require.Equal(t, flow.StepCompleted, steps[0].Status)
	require.Equal(t, flow.StepFailed, steps[1].Status)
	require.Contains(t, steps[1].ErrorMessage, "only an active one may run")
	require.Len(t, env.fake.RequestsTo("/b"), 0)
}
