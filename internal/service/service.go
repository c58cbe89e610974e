// Package service holds one method per API operation. Each owns its
// transaction (where later its audit entry joins it) and opens the span the
// telemetry page names. It talks to the store interface only; it knows
// nothing of HTTP.
package service

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// NodeChecker validates executor nodes against catalog and configuration
// (the provider capability plugs in here). activating is true at activation.
type NodeChecker func(ctx context.Context, tx store.Tx, w *flow.Workflow, activating bool) error

// Service implements every API operation over a store.
type Service struct {
	store      store.Store
	now        func() time.Time
	newID      func() uuid.UUID
	checkNodes NodeChecker
	tracer     trace.Tracer
}

// Option adjusts a Service; tests inject time and ids.
type Option func(*Service)

// WithClock sets the time source.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithIDs sets the id generator.
func WithIDs(newID func() uuid.UUID) Option { return func(s *Service) { s.newID = newID } }

// WithNodeChecker sets the executor-node validation.
func WithNodeChecker(c NodeChecker) Option { return func(s *Service) { s.checkNodes = c } }

// New returns a Service over st.
func New(st store.Store, opts ...Option) *Service {
	s := &Service{
		store:  st,
		now:    func() time.Time { return time.Now().UTC() },
		newID:  newUUID,
		tracer: otel.Tracer("flowker/service"),
	}
	for _, o := range opts {
		o(s)
	}
	clock := s.now
	// Stored times have microsecond precision (PostgreSQL's); truncating
	// here makes a create response equal what a later read returns.
	s.now = func() time.Time { return clock().UTC().Truncate(time.Microsecond) }
	return s
}

// newUUID makes time-ordered v7 ids: index-friendly inserts, and a v4's
// randomness in the low bits. Falls back to v4 if the clock source fails.
func newUUID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}

// Ping checks the database, for health endpoints.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// Driver names the database, for health endpoints.
func (s *Service) Driver() string { return s.store.Driver() }

// op starts the operation's span; the returned func ends it, recording err.
// Client errors are events on the span; only internal ones mark it failed.
func (s *Service) op(ctx context.Context, name string, attrs ...trace.SpanStartOption) (context.Context, func(*error)) {
	ctx, span := s.tracer.Start(ctx, name, attrs...)
	return ctx, func(errp *error) {
		if err := *errp; err != nil {
			span.RecordError(err)
			if flow.KindOf(err) == flow.KindInternal {
				span.SetStatus(codes.Error, err.Error())
			}
		}
		span.End()
	}
}
