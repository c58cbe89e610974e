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

	"flowker/internal/catalog"
	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/secret"
	"flowker/internal/store"
	"flowker/internal/telemetry"
)

// Service implements every API operation over a store.
type Service struct {
	store   store.Store
	box     *secret.Box              // seals configuration secrets at rest
	catalog *catalog.Catalog         // providers, executors, triggers, templates
	http    *provider.Client         // outbound calls: connectivity tests
	engine  Dispatcher               // runs executions; nil: executions cannot start
	metrics *telemetry.EngineMetrics // review decision times; nil records nothing
	now     func() time.Time
	newID   func() uuid.UUID
	tracer  trace.Tracer
	starts  startInfos // what starting needs of each workflow, by revision
	// writeDeadline bounds a catalog write's transaction (catalogTx).
	writeDeadline time.Duration
	// catalogSlots admits catalogTx's transactions (catalogTxSlots).
	catalogSlots chan struct{}
}

// Option adjusts a Service; tests inject time and ids.
type Option func(*Service)

// WithClock sets the time source.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithIDs sets the id generator.
func WithIDs(newID func() uuid.UUID) Option { return func(s *Service) { s.newID = newID } }

// WithMetrics records review decision times.
func WithMetrics(m *telemetry.EngineMetrics) Option { return func(s *Service) { s.metrics = m } }

// WithWriteDeadline bounds a catalog write's transaction, its wait for the
// catalog lock included (default CatalogWriteTimeout): below the HTTP
// server's write timeout, so its refusal reaches the client.
func WithWriteDeadline(d time.Duration) Option {
	return func(s *Service) {
		if d > 0 { // a deadline of 0 would refuse every write
			s.writeDeadline = d
		}
	}
}

// WithHTTPClient sets the outbound client (the default blocks private addresses).
func WithHTTPClient(c *provider.Client) Option { return func(s *Service) { s.http = c } }

// New returns a Service over st; box seals configuration secrets.
func New(st store.Store, box *secret.Box, opts ...Option) *Service {
	s := &Service{
		store:   st,
		box:     box,
		catalog: catalog.Default(),
		http:    provider.New(provider.Options{}),
		now:     func() time.Time { return time.Now().UTC() },
		newID:   flow.NewID,
		tracer:  otel.Tracer("flowker/service"),

		writeDeadline: CatalogWriteTimeout,
		catalogSlots:  make(chan struct{}, catalogTxSlots),
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
