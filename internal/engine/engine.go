// Package engine runs executions durably. The executions table is the
// queue: an execution is leased by one process at a time, its steps are
// persisted before the steps that depend on them start, and a process that
// dies leaves leases that expire and are claimed again, so every accepted
// execution finishes and no completed step runs twice.
//
// It must not import service or httpapi: the service inserts executions
// and hands them over through Dispatch.
package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"flowker/internal/catalog"
	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/secret"
	"flowker/internal/store"
	"flowker/internal/telemetry"
)

// Options tune the engine; zero values take the defaults below.
type Options struct {
	Owner             string        // lease owner id; stable across restarts lets a process reclaim its own work at once
	Concurrency       int           // executions running at once (default 256)
	QueueSize         int           // accepted executions waiting for a worker (default 10000)
	LeaseDuration     time.Duration // default 30s
	HeartbeatInterval time.Duration // default LeaseDuration/3
	RescueInterval    time.Duration // default 5s
	ExecutionTimeout  time.Duration // default 5m
	Retry             RetryPolicy
	Breaker           BreakerPolicy
}

func (o *Options) defaults() {
	if o.Owner == "" {
		o.Owner = uuid.NewString()
	}
	setDefault(&o.Concurrency, 256)
	setDefault(&o.QueueSize, 10000)
	setDefault(&o.LeaseDuration, 30*time.Second)
	setDefault(&o.HeartbeatInterval, o.LeaseDuration/3)
	setDefault(&o.RescueInterval, 5*time.Second)
	setDefault(&o.ExecutionTimeout, 5*time.Minute)
	o.Retry.defaults()
	o.Breaker.defaults()
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Engine owns the workers of one process.
type Engine struct {
	opts    Options
	store   store.Store
	box     *secret.Box
	catalog *catalog.Catalog
	http    *provider.Client
	log     *zap.Logger
	metrics *telemetry.EngineMetrics
	tracer  trace.Tracer
	now     func() time.Time

	queue    chan uuid.UUID
	inFlight atomic.Int64 // accepted here and not finished: queued + running
	graphs   graphCache
	configs  configCache
	breakers breakers

	mu       sync.Mutex
	running  map[uuid.UUID]context.CancelCauseFunc // to cancel a local execution at once
	local    map[uuid.UUID]bool                    // queued or running here: never claimed twice
	fresh    map[uuid.UUID]freshExecution          // just inserted here: no need to read it back
	waiters  map[uuid.UUID][]chan struct{}         // synchronous callers
	stopping bool

	stop    context.CancelFunc
	workers sync.WaitGroup
	loops   sync.WaitGroup
}

// New builds an engine; Start runs it.
func New(st store.Store, box *secret.Box, cat *catalog.Catalog, client *provider.Client, log *zap.Logger,
	metrics *telemetry.EngineMetrics, opts Options) *Engine {
	opts.defaults()
	return &Engine{
		opts: opts, store: st, box: box, catalog: cat, http: client, log: log, metrics: metrics,
		tracer: otel.Tracer("flowker/engine"), now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		queue:   make(chan uuid.UUID, opts.QueueSize+maxRescue),
		running: map[uuid.UUID]context.CancelCauseFunc{}, waiters: map[uuid.UUID][]chan struct{}{},
		local:    map[uuid.UUID]bool{},
		fresh:    map[uuid.UUID]freshExecution{},
		breakers: breakers{policy: opts.Breaker, m: map[string]*breaker{}},
	}
}

// Owner is the lease owner id new executions are inserted with.
func (e *Engine) Owner() string { return e.opts.Owner }

// LeaseUntil is the lease expiry for an execution inserted now.
func (e *Engine) LeaseUntil(now time.Time) time.Time { return now.Add(e.opts.LeaseDuration) }

// Start recovers incomplete executions, then runs the workers, the lease
// heartbeat and the rescuer until Stop.
func (e *Engine) Start(ctx context.Context) error {
	ctx, e.stop = context.WithCancel(context.WithoutCancel(ctx))
	if err := e.recover(ctx); err != nil {
		return err
	}
	for range e.opts.Concurrency {
		e.workers.Go(func() { e.work(ctx) })
	}
	e.loops.Go(func() { e.every(ctx, e.opts.HeartbeatInterval, e.heartbeat) })
	e.loops.Go(func() { e.every(ctx, e.opts.RescueInterval, func(ctx context.Context) { e.rescue(ctx, false) }) })
	if e.metrics != nil {
		_ = e.metrics.ObserveQueueDepth(e.store.CountUnfinished)
	}
	return nil
}

// Reserve takes a place for one more execution, or reports the engine full.
// A reservation must be followed by Dispatch or Release.
func (e *Engine) Reserve() bool {
	limit := int64(e.opts.Concurrency + e.opts.QueueSize)
	if e.inFlight.Add(1) > limit {
		e.inFlight.Add(-1)
		return false
	}
	return true
}

// Release gives back a reservation that was not dispatched.
func (e *Engine) Release() { e.inFlight.Add(-1) }

// Dispatch hands a reserved, inserted and leased execution to a worker.
func (e *Engine) Dispatch(id uuid.UUID) {
	e.mu.Lock()
	e.local[id] = true
	e.mu.Unlock()
	e.queue <- id // never blocks: Reserve bounded in-flight work
}

// DispatchNew hands over an execution this process has just inserted, so
// its worker starts without reading the row and its (empty) steps back.
func (e *Engine) DispatchNew(ex *flow.Execution) {
	c := *ex
	e.mu.Lock()
	e.fresh[ex.ID] = freshExecution{ex: &c, at: time.Now()}
	e.mu.Unlock()
	e.Dispatch(ex.ID)
}

type freshExecution struct {
	ex *flow.Execution
	at time.Time
}

// freshFor is how long a handed-over copy is trusted: one that waited
// longer in the queue is read back, so a cancel sent through another
// process meanwhile is seen before any step runs.
const freshFor = 50 * time.Millisecond

// takeFresh returns the execution handed over by DispatchNew, once, while
// it is still fresh.
func (e *Engine) takeFresh(id uuid.UUID) *flow.Execution {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.fresh[id]
	delete(e.fresh, id)
	if !ok || time.Since(f.at) > freshFor {
		return nil
	}
	return f.ex
}

// Wait returns a channel closed when the execution finishes here.
func (e *Engine) Wait(id uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], ch)
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		list := e.waiters[id]
		for i, c := range list {
			if c == ch {
				e.waiters[id] = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(e.waiters[id]) == 0 {
			delete(e.waiters, id)
		}
	}
}

// Cancel stops a running local execution at once (its worker then records
// it as cancelled); it reports whether the execution was running here.
func (e *Engine) Cancel(id uuid.UUID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cancel, ok := e.running[id]; ok {
		cancel(errCancelled)
		return true
	}
	if f, ok := e.fresh[id]; ok { // still queued here
		f.ex.CancelRequested = true
	}
	return false
}

var errCancelled = errors.New("cancelled")

// Stop stops taking work, lets running executions finish for up to grace,
// then hands the rest back (their leases released for other processes).
func (e *Engine) Stop(grace time.Duration) {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		e.stop() // workers finish their current execution, then return
		e.workers.Wait()
		e.loops.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		e.mu.Lock()
		for _, cancel := range e.running {
			cancel(errHandedBack)
		}
		e.mu.Unlock()
		<-done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.store.ReleaseLeases(ctx, e.opts.Owner, e.now()); err != nil {
		e.log.Warn("releasing leases", zap.String("operation", "shutdown"), zap.String("error.message", err.Error()))
	}
}

var errHandedBack = errors.New("handed back at shutdown")

// maxRescue bounds the executions one rescue pass claims.
const maxRescue = 1000

func (e *Engine) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-e.queue:
			e.runOne(ctx, id)
			e.inFlight.Add(-1)
		}
	}
}

func (e *Engine) every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// heartbeat extends every lease this process holds, in one statement.
func (e *Engine) heartbeat(ctx context.Context) {
	if _, err := e.store.ExtendLeases(ctx, e.opts.Owner, e.LeaseUntil(e.now())); err != nil && ctx.Err() == nil {
		e.log.Warn("lease heartbeat failed", zap.String("operation", "engine.heartbeat"),
			zap.String("error.message", err.Error()))
	}
}

// rescue claims executions whose lease expired (their process died) as far
// as local capacity allows.
func (e *Engine) rescue(ctx context.Context, reclaimOwn bool) int {
	free := int(int64(e.opts.Concurrency+e.opts.QueueSize) - e.inFlight.Load())
	if free <= 0 {
		return 0
	}
	now := e.now()
	free = min(free, maxRescue)
	// Claim, then count what was claimed. Reserving the free places for the
	// length of the claim query instead made concurrent starts see a full
	// engine (spurious 503s); a start racing with the claim can push the
	// queue past QueueSize by at most maxRescue, which its channel holds.
	ids, err := e.store.ClaimExecutions(ctx, e.opts.Owner, now, e.LeaseUntil(now), free, reclaimOwn)
	e.inFlight.Add(int64(len(ids)))
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("claiming executions failed", zap.String("operation", "engine.rescue"),
				zap.String("error.message", err.Error()))
		}
		return 0
	}
	claimed := 0
	for _, id := range ids {
		e.mu.Lock()
		here := e.local[id]
		e.mu.Unlock()
		if here { // our own, its lease lapsed during a stall: it is still queued or running here
			e.Release()
			continue
		}
		claimed++
		e.Dispatch(id)
	}
	ids = ids[:claimed]
	if len(ids) > 0 {
		e.metrics.LeaseRescued(ctx, len(ids))
		e.log.Info("claimed executions with expired leases", zap.String("operation", "engine.rescue"),
			zap.Int("count", len(ids)))
	}
	return len(ids)
}

// recover is the start-up pass: take back this owner's unfinished work and
// any whose lease expired. Every process runs it, even when it finds nothing.
func (e *Engine) recover(ctx context.Context) error {
	ctx, span := e.tracer.Start(ctx, "command.execution.recover")
	defer span.End()
	n := e.rescue(ctx, true)
	e.log.Info("recovered incomplete executions", zap.String("operation", "command.execution.recover"),
		zap.Int("count", n))
	return nil
}

// retryLater runs an execution again after a pause when its progress
// could not be written (the database was unreachable): this process keeps
// renewing the lease, so no rescuer would take it. A lost lease means
// another worker has it; nothing to do.
func (e *Engine) retryLater(id uuid.UUID, leaseLost bool) {
	if leaseLost {
		return
	}
	time.AfterFunc(e.opts.RescueInterval, func() {
		e.mu.Lock()
		stopping := e.stopping
		e.mu.Unlock()
		if !stopping && e.Reserve() {
			e.Dispatch(id)
		}
	})
}

// finished wakes synchronous waiters and forgets the execution.
func (e *Engine) finished(id uuid.UUID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.running, id)
	delete(e.local, id)
	for _, ch := range e.waiters[id] {
		close(ch)
	}
	delete(e.waiters, id)
}
