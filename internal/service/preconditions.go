package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// Precondition is an HTTP If-Match on a write: it proceeds only while the
// entity's revision is one of Revisions, or, with Any ("*"), whenever the
// entity exists. IfMatch is the header as sent, for messages.
type Precondition struct {
	Any       bool
	Revisions []int
	IfMatch   string
}

type preconditionKey struct{}

// WithPrecondition makes the writes done with ctx conditional on p.
func WithPrecondition(ctx context.Context, p Precondition) context.Context {
	return context.WithValue(ctx, preconditionKey{}, p)
}

func preconditionOf(ctx context.Context) (Precondition, bool) {
	p, ok := ctx.Value(preconditionKey{}).(Precondition)
	return p, ok
}

// checkRevision enforces ctx's precondition on an entity (what names it)
// read at revision rev: 412 FLK-0013 when it does not hold.
func checkRevision(ctx context.Context, what string, rev int) error {
	p, ok := preconditionOf(ctx)
	if !ok || p.Any || slices.Contains(p.Revisions, rev) {
		return nil
	}
	return flow.Errorf(flow.KindPrecondition, flow.CodePrecondition,
		"precondition failed: the %s is at revision %d (ETag \"%d\"), not If-Match %s; read it again and apply your change to it",
		what, rev, rev, p.IfMatch)
}

// blindWriteAttempts bounds how often a blind write that keeps losing the
// race for a revision is re-applied before it answers 409 FLK-0350.
const blindWriteAttempts = 16

// writeTx runs a read-modify-write of one entity in a transaction. Every
// such write is conditional on the revision it read. PostgreSQL lets two
// of them read the same revision, and the later one then fails
// (flow.ErrStateChanged); SQLite runs writers one at a time, so the later
// one reads the earlier one's result instead. To answer alike on both:
//   - a blind write (no If-Match) that lost the race is read and applied
//     again, as if it had come a moment later, which is what SQLite does:
//     last writer wins, as in the reference; the change is validated again
//     against what it now replaces (a status that moved meanwhile refuses it);
//   - a conditional write that lost it fails its precondition (412), as it
//     would on SQLite after the other write.
//
// Every such write is a catalog write, and first takes the catalog's lock
// (store.Tx.LockCatalog): its checks of other catalog rows (configurations
// an activation's nodes name, active workflows naming a configuration to
// delete) then cannot pass together with a concurrent change they forbid.
func (s *Service) writeTx(ctx context.Context, what string, fn func(store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.catalogTx(ctx, func(bounded context.Context, tx store.Tx) error {
			if err := tx.LockCatalog(bounded); err != nil {
				return err
			}
			return fn(tx)
		})
		if !errors.Is(err, flow.ErrStateChanged) {
			return err
		}
		if p, ok := preconditionOf(ctx); ok {
			return flow.Errorf(flow.KindPrecondition, flow.CodePrecondition,
				"precondition failed: the %s changed concurrently, after If-Match %s was checked; read it again", what, p.IfMatch)
		}
		if attempt == blindWriteAttempts || ctx.Err() != nil {
			return err
		}
	}
}

// CatalogWriteTimeout is the default bound of one catalog write's
// transaction, its wait for the catalog lock included (WithWriteDeadline). Without it a lock held elsewhere (another
// replica's hung transaction, an operator's open one) held every catalog
// write — each on a pooled connection, until the pool was gone and
// execution starts waited too — for as long as it lasted, and a write its
// client had given up on was applied later (found by a defect hunt).
const CatalogWriteTimeout = 10 * time.Second

// catalogTxSlots is how many catalog transactions (catalogTx) of a
// process may hold a database connection at once: one at work, one ready
// to take the catalog lock as it is freed.
const catalogTxSlots = 2

var errCatalogWriteDeadline = fmt.Errorf("%w: a catalog write passed its deadline (the catalog lock is held elsewhere?)",
	store.ErrUnavailable)

// catalogTx runs fn in a transaction bounded by the write deadline; past
// it the answer is 503 FLK-0012, nothing written — unless the COMMIT was
// sent and its answer lost, which says so (store.ErrOutcomeUnknown).
// fn is given the bounded context (the store also ends fn's statements
// with it, whatever context they were given). fn takes the catalog lock
// (writeTx).
func (s *Service) catalogTx(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	return s.boundedTx(ctx, true, fn)
}

// boundedTx is catalogTx for fn that takes the catalog lock when locks
// says so. At most catalogTxSlots of those hold a connection at once: they
// take the lock one at a time across processes anyway, and while another
// session held it each waited on a pooled connection — enough retries or
// catalog writes took the whole pool, and starts and steps waited with
// them until the deadline (found by a review). The others wait here, on no
// connection, within the same deadline; a transaction that takes no lock
// does not wait for their turns (found by a review).
func (s *Service) boundedTx(ctx context.Context, locks bool, fn func(context.Context, store.Tx) error) error {
	ctx, cancel := context.WithTimeoutCause(ctx, s.writeDeadline, errCatalogWriteDeadline)
	defer cancel()
	if locks {
		select {
		case s.catalogSlots <- struct{}{}:
			defer func() { <-s.catalogSlots }()
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	err := s.store.InTx(ctx, func(tx store.Tx) error { return fn(ctx, tx) })
	if err != nil && !errors.Is(err, store.ErrOutcomeUnknown) && errors.Is(context.Cause(ctx), errCatalogWriteDeadline) {
		return errCatalogWriteDeadline
	}
	return err
}
