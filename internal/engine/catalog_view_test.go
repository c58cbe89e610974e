package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
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
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNode("b", "/b", nil)},
		linkTA, link("a", "b"))
	viewed := env.watchViews()
	run := func(view *store.CatalogView) []bool {
		t.Helper()
		viewed() // from this run on
		ex := env.insert(wf, nil)
		env.eng.DispatchNew(ex, view)
		got, _ := env.await(ex.ID)
		require.Equal(t, flow.ExecCompleted, got.Status, got.ErrorMessage)
		return viewed()
	}

	require.Equal(t, []bool{false, true}, run(nil), "the second step uses the progress write's read")
	require.Equal(t, []bool{true, true}, run(env.filledView(time.Now())), "the first, the insert's")
	require.Equal(t, []bool{false, true}, run(env.filledView(time.Now().Add(-time.Hour))), "not one too old")
}

// A view serves only the calls that start in the turn its write returned:
// a first step that waited for a provider slot looks the catalog up anew
// when its turn comes.
func TestStepLookupsAfterASlotWaitRead(t *testing.T) {
	env := newPostgresEnv(t, func(o *Options) { o.CatalogViewMaxAge = time.Minute; o.ProviderConcurrency = 1 })
	release := env.held("/hold")
	holder := env.start(env.workflow([]flow.Node{trig("t"), env.callNode("h", "/hold", nil)}, link("t", "h")), nil)
	env.awaitRequests("/hold", 1) // the one slot is taken
	viewed := env.watchViews()
	ex := env.insert(env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil)}, linkTA), nil)
	env.eng.DispatchNew(ex, env.filledView(time.Now()))
	target := "provider_config:" + env.pc.String()
	require.Eventually(t, func() bool { return env.eng.slots.queued(target) == 1 }, waitLimit, time.Millisecond)
	release()
	for _, id := range []uuid.UUID{holder, ex.ID} {
		got, _ := env.await(id)
		require.Equal(t, flow.ExecCompleted, got.Status, got.ErrorMessage)
	}
	require.Equal(t, []bool{false}, viewed())
}

// watchViews records, for each provider configuration lookup from now on,
// whether it was made under a filled catalog view; the function returns
// those recorded since its last call.
func (env *testEnv) watchViews() func() []bool {
	var mu sync.Mutex
	var viewed []bool
	env.st.Watch("ProviderConfigRevision", func(ctx context.Context) {
		mu.Lock()
		defer mu.Unlock()
		v := store.CatalogViewOf(ctx)
		viewed = append(viewed, v != nil && v.FilledWithin(time.Hour))
	})
	return func() []bool {
		mu.Lock()
		defer mu.Unlock()
		got := viewed
		viewed = nil
		return got
	}
}

// filledView is a view with the catalog's generation read now, as if the
// read had been queued at queued.
func (env *testEnv) filledView(queued time.Time) *store.CatalogView {
	env.t.Helper()
	ctx := context.Background()
	read := store.NewCatalogView()
	require.NoError(env.t, env.raw.Batch(ctx, func(tx store.Tx) error { return tx.ReadCatalogView(ctx, read) }))
	require.True(env.t, read.FilledWithin(time.Minute), "PostgreSQL fills the view")
	gen, _ := read.Generation(nil, nil)
	view := store.NewCatalogView()
	view.Fill(gen, queued)
	return view
}

// queued is how many tickets wait for a slot at key.
func (s *targetSlots) queued(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.targets[key]; q != nil {
		return q.waiting.Len()
	}
	return 0
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

// Many executions at once, each with two calls in parallel after its
// first step: their progress writes share group commits, and both calls
// of each, on goroutines of their own, use the view their write filled.
func TestStepLookupsShareViewsUnderLoad(t *testing.T) {
	env := newPostgresEnv(t, func(o *Options) { o.CatalogViewMaxAge = time.Minute })
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("x", "/x", nil), env.callNode("a", "/a", nil),
		env.callNode("b", "/b", nil)}, link("t", "x"), link("x", "a"), link("x", "b"))
	viewed := env.watchViews()
	const n = 16
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = env.start(wf, nil)
	}
	for _, id := range ids {
		got, steps := env.await(id)
		require.Equal(t, flow.ExecCompleted, got.Status, got.ErrorMessage)
		require.Len(t, steps, 3)
	}
	count := map[bool]int{}
	for _, v := range viewed() {
		count[v]++
	}
	require.Equal(t, map[bool]int{false: n, true: 2 * n}, count,
		"the first step of each reads; the two after it use its progress write's view")
}
