package store

import (
	"context"
	"sync"
	"time"

	"flowker/internal/flow"
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
	return NewCatalogView().Context(ctx)
}

// NewCatalogView returns a view for the lookups of an execution's steps
// that start as soon as a write of it commits (its insert, or the progress
// write before them): the write's transaction may fill it (Tx.ReadCatalogView)
// with the catalog as it read it, after the write was asked for, so those
// lookups ask the database nothing. Left unfilled, its first lookup reads,
// as WithCatalogView's. Put it in a context with Context.
func NewCatalogView() *CatalogView { return &CatalogView{} }

// Context returns ctx with v as its catalog view.
func (v *CatalogView) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, catalogViewKey{}, v)
}

// WithGuardedCatalogView is WithCatalogView for a request whose only
// write is the execution it starts: where the store would ask the
// database, the view does not ask; it takes the catalog as the store last
// saw it, and the store makes the execution's insert fail with
// ErrCatalogMoved if the catalog has changed since (a guard in the same
// transaction: no round trip of its own). An answer such a view led to is
// right only if that insert committed: a caller whose request failed for
// any reason while the view was Unverified must serve it again under
// WithCatalogView.
func WithGuardedCatalogView(ctx context.Context) context.Context {
	return context.WithValue(ctx, catalogViewKey{}, &CatalogView{guarded: true})
}

// ErrCatalogMoved: a write under a guarded catalog view found the catalog
// changed since the generation the view's lookups answered with; nothing
// of the transaction was stored. The caller serves the request again; were
// it to reach a client, it is the 409 of any concurrent change.
var ErrCatalogMoved = &flow.Error{Kind: flow.KindConflict, Code: flow.CodeStateChanged,
	Message: "the catalog changed since the lookups made for this request; retry"}

// CatalogView is the catalog's generation the lookups under one context
// share. Safe for concurrent use.
type CatalogView struct {
	mu       sync.Mutex
	gen      uint64
	set      bool
	filledAt time.Time // Fill's: when the read that filled it was queued
	guarded  bool      // may take a recalled generation instead of reading one
	recalled bool      // it did: Unverified
}

type catalogViewKey struct{}

// CatalogViewOf returns ctx's view, or nil.
func CatalogViewOf(ctx context.Context) *CatalogView {
	v, _ := ctx.Value(catalogViewKey{}).(*CatalogView)
	return v
}

// Generation returns the view's generation, set by the first caller that
// gets one: on a guarded view, what recall gives (the generation the store
// last read) when it knows one; otherwise what read gives (false: not
// read; the next caller tries again). recall may be nil.
func (v *CatalogView) Generation(read, recall func() (uint64, bool)) (uint64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.set && v.guarded && recall != nil {
		v.gen, v.set = recall()
		v.recalled = v.set
	}
	if !v.set {
		v.gen, v.set = read()
	}
	return v.gen, v.set
}

// Fill sets the view's generation to gen, as a transaction read it; the
// read was queued at queued (it ran no earlier). For stores: see
// Tx.ReadCatalogView.
func (v *CatalogView) Fill(gen uint64, queued time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen, v.set, v.filledAt = gen, true, queued
}

// FilledWithin reports whether Fill set the view from a read queued less
// than maxAge ago.
func (v *CatalogView) FilledWithin(maxAge time.Duration) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return !v.filledAt.IsZero() && time.Since(v.filledAt) < maxAge
}

// Unverified returns the generation a guarded view answered with without
// reading it (false for a nil view, or one that read): a write under the
// view must be conditional on the catalog still being at it.
func (v *CatalogView) Unverified() (uint64, bool) {
	if v == nil {
		return 0, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.gen, v.recalled
}
