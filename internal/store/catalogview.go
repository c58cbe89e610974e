package store

import (
	"context"
	"sync"
)

// WithCatalogView returns ctx with a catalog view: the catalog lookups
// made under it (FindWebhookRoute, WorkflowRevision,
// ProviderConfigRevision) see every change committed before the first of
// them asked, as each lookup alone sees every change committed before it
// asked. A store that must ask the database whether the catalog changed
// (PostgreSQL: a round trip) then asks once per view, not once per lookup.
//
// A view is for the lookups of one request, which may be taken as made at
// its arrival: a webhook call's route and its workflow's revision. Never
// for an execution's steps, each of which must see the configuration as
// it is when it starts (a disable applies to the next step).
func WithCatalogView(ctx context.Context) context.Context {
	return context.WithValue(ctx, catalogViewKey{}, &CatalogView{})
}

// CatalogView is the catalog's generation the lookups under one context
// share. Safe for concurrent use.
type CatalogView struct {
	mu  sync.Mutex
	gen uint64
	set bool
}

type catalogViewKey struct{}

// CatalogViewOf returns ctx's view, or nil.
func CatalogViewOf(ctx context.Context) *CatalogView {
	v, _ := ctx.Value(catalogViewKey{}).(*CatalogView)
	return v
}

// Generation returns the view's generation, read with read by the first
// caller that gets one (false: not read; the next caller tries again).
func (v *CatalogView) Generation(read func() (uint64, bool)) (uint64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.set {
		v.gen, v.set = read()
	}
	return v.gen, v.set
}
