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
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"flowker/internal/catalog"
	"flowker/internal/expr"
	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/secret"
	"flowker/internal/store"
	"flowker/internal/telemetry"
)

// Options tune the engine; zero values take the defaults below.
type Options struct {
	Owner       string // lease owner id; stable across restarts lets a process reclaim its own work at once
	Concurrency int    // executions running at once (default 256)
	// ProviderConcurrency bounds the calls in flight per provider
	// configuration or executor configuration (default 256); more wait
	// for a slot, first come first served, without a goroutine (slots.go).
	ProviderConcurrency int
	QueueSize           int           // accepted executions waiting for a worker (default 10000)
	LeaseDuration       time.Duration // default 30s
	HeartbeatInterval   time.Duration // default LeaseDuration/3
	RescueInterval      time.Duration // default 5s
	ExecutionTimeout    time.Duration // default 5m
	Retry               RetryPolicy
	Breaker             BreakerPolicy
	Clock               Clock // default: the system clock
	// CallbackBaseURL prefixes callback URLs handed to providers
	// (PUBLIC_URL); default http://localhost:4021.
	CallbackBaseURL string
	TimerInterval   time.Duration // how often due timers and deadlines are looked for (default 250ms)
	// CatalogViewMaxAge bounds how old the catalog a step's lookups use may
	// be when the write before the step read it (store.Tx.ReadCatalogView)
	// instead of the lookups asking when the step starts (default 10ms).
	// The read came after that write was asked for, and serves only calls
	// that start as soon as the write returns; a step that waited (for a
	// worker, a provider slot, a slow commit) reads the catalog itself.
	CatalogViewMaxAge time.Duration
}

func (o *Options) defaults() {
	if o.Owner == "" {
		o.Owner = uuid.NewString()
	}
	setDefault(&o.Concurrency, 256)
	setDefault(&o.ProviderConcurrency, DefaultProviderConcurrency)
	setDefault(&o.QueueSize, 10000)
	setDefault(&o.LeaseDuration, 30*time.Second)
	setDefault(&o.HeartbeatInterval, o.LeaseDuration/3)
	setDefault(&o.RescueInterval, 5*time.Second)
	setDefault(&o.ExecutionTimeout, 5*time.Minute)
	setDefault(&o.CallbackBaseURL, "http://localhost:4021")
	setDefault(&o.TimerInterval, 250*time.Millisecond)
	setDefault(&o.CatalogViewMaxAge, 10*time.Millisecond)
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	o.Retry.defaults()
	o.Breaker.defaults()
}

// DefaultProviderConcurrency is Options.ProviderConcurrency's default; it
// is also provider.DefaultIdleConnsPerHost, so one target's calls find the
// connections the transport keeps to its host.
const DefaultProviderConcurrency = provider.DefaultIdleConnsPerHost

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
	clock   Clock

	queue    chan uuid.UUID
	inFlight atomic.Int64 // accepted here and not finished: queued + running
	// placeWaits counts the dispatcher's waits for a free place, twice
	// each: odd while it waits. A run whose DispatchNew saw another value
	// may have waited in the queue, and reads its row (takeOver).
	placeWaits atomic.Int64
	places     chan struct{} // a place per running execution (Concurrency)
	slots      *targetSlots  // calls in flight per target (ProviderConcurrency)
	graphs     graphCache
	configs    configCache
	breakers   breakers

	mu       sync.Mutex
	execs    map[uuid.UUID]*localExec // every execution this process holds or waits for
	stopping bool

	stop     context.CancelFunc
	attempts sync.WaitGroup // the dispatcher and every execution it started, until its attempt ends
	loops    sync.WaitGroup
	// The heartbeat outlives the other loops: runs go on through Stop's
	// grace, and their leases must not lapse meanwhile (another process
	// would take them over mid-call).
	stopHeartbeat context.CancelFunc
	heartbeats    sync.WaitGroup
}

// localExec is what this process knows of one execution. Guarded by
// Engine.mu; a worker reads it only through the Engine's methods.
type localExec struct {
	queued          bool                           // dispatched here and not finished: never claimed twice
	fresh           *flow.Execution                // handed over by DispatchNew: the engine's own deep copy
	handedAt        int64                          // placeWaits when DispatchNew handed it over
	isNew           bool                           // inserted by this process and never run: DispatchNew's
	view            *store.CatalogView             // the catalog as the insert read it (DispatchNew)
	cancel          context.CancelCauseFunc        // while a worker runs it
	cancelRequested bool                           // cancel asked while it waited for a worker
	waiters         []chan *store.ExecutionResults // synchronous callers: see Wait
	retries         int                            // transient failures in a row, for the backoff
	dispatches      int                            // Dispatch calls: a run ends only the record of its own dispatch
	driving         chan struct{}                  // closed when the run under way here ends (drive)
	cause           trace.SpanContext              // the request that dispatched it again (Dispatch), for the run's link
}

// New builds an engine; Start runs it.
func New(st store.Store, box *secret.Box, cat *catalog.Catalog, client *provider.Client, log *zap.Logger,
	metrics *telemetry.EngineMetrics, opts Options) *Engine {
	opts.defaults()
	return &Engine{
		opts: opts, store: st, box: box, catalog: cat, http: client, log: log, metrics: metrics,
		tracer: otel.Tracer("flowker/engine"), clock: opts.Clock,
		queue:    make(chan uuid.UUID, opts.QueueSize+maxRescue),
		places:   make(chan struct{}, opts.Concurrency),
		slots:    newTargetSlots(opts.ProviderConcurrency),
		execs:    map[uuid.UUID]*localExec{},
		breakers: breakers{policy: opts.Breaker, m: map[string]*breaker{}},
	}
}

// now is the engine's timestamp: UTC, microseconds (what both stores keep).
func (e *Engine) now() time.Time { return e.clock.Now().UTC().Truncate(time.Microsecond) }

// Owner is the lease owner id new executions are inserted with.
func (e *Engine) Owner() string { return e.opts.Owner }

// LeaseUntil is the lease expiry for an execution inserted now.
func (e *Engine) LeaseUntil(now time.Time) time.Time { return now.Add(e.opts.LeaseDuration) }

// Start recovers incomplete executions, then runs the dispatcher, the
// lease heartbeat and the rescuer until Stop.
func (e *Engine) Start(ctx context.Context) error {
	base := context.WithoutCancel(ctx)
	ctx, e.stop = context.WithCancel(base)
	beat, stopHeartbeat := context.WithCancel(base)
	e.stopHeartbeat = stopHeartbeat
	if err := e.recover(ctx); err != nil {
		return err
	}
	e.attempts.Go(func() { e.dispatch(ctx) })
	e.loops.Go(func() { e.reportUnrunnable(ctx) }) // beside the work, not before it: start is not delayed
	e.heartbeats.Go(func() { e.beat(beat) })
	e.loops.Go(func() { e.every(ctx, e.opts.RescueInterval, func(ctx context.Context) { e.rescue(ctx, false) }) })
	e.loops.Go(func() { e.every(ctx, e.opts.TimerInterval, e.fireTimers) })
	if e.metrics != nil {
		_ = e.metrics.ObserveQueueDepth(e.store.CountUnfinished)
		_ = e.metrics.ObserveWaiting(e.store.CountWaiting)
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

// record returns the local record of id, creating it. Callers hold e.mu.
func (e *Engine) record(id uuid.UUID) *localExec {
	rec := e.execs[id]
	if rec == nil {
		rec = &localExec{}
		e.execs[id] = rec
	}
	return rec
}

// Dispatch hands a reserved, inserted and leased execution to a worker.
// The span in ctx, if any — the request that retried or woke it — is
// linked from the run's span: the run stays in the trace of the request
// that started the execution, and the later request's trace reaches it.
func (e *Engine) Dispatch(ctx context.Context, id uuid.UUID) {
	e.mu.Lock()
	rec := e.record(id)
	rec.queued = true
	rec.dispatches++
	rec.cause = trace.SpanContextFromContext(ctx)
	e.mu.Unlock()
	e.queue <- id // never blocks: Reserve bounded in-flight work
}

// DispatchNew hands over an execution this process has just inserted, with
// its input in plaintext, so its worker starts without reading the row back
// and opening it. The engine keeps its own deep copy: the caller's maps may
// change once this returns (the strings are already the caller's own:
// request values are copies, see docs/engine.md). view, if not nil, is what
// the insert's transaction filled (store.Tx.ReadCatalogView): the first
// steps' lookups use it if they start at once (run.startCalls).
func (e *Engine) DispatchNew(ex *flow.Execution, view *store.CatalogView) {
	c := *ex
	c.Input, _ = expr.DeepCopy(ex.Input).(map[string]any)
	dropUnused(&c)
	e.mu.Lock()
	rec := e.record(ex.ID)
	rec.fresh, rec.view, rec.handedAt, rec.isNew = &c, view, e.placeWaits.Load(), true
	e.mu.Unlock()
	e.Dispatch(context.Background(), ex.ID) // the run's parent is the request itself
}

// dropUnused clears what a run never reads nor writes (a progress write
// carries status, output and timings): thousands of runs are held at once.
func dropUnused(ex *flow.Execution) {
	ex.IdempotencyKey, ex.RequestHash = "", ""
}

// drive waits until no other run of id is under way in this process, marks
// this one's, and returns the function that ends the mark and what the run
// takes over (false: ctx ended first). Two runs of one execution must never
// overlap, and the lease's fence names the process, not the run: after a
// write whose answer was lost (it did commit: a park), the run that wrote it
// carries on while a wake may have leased the execution to this process
// again and dispatched it. The run's cancel is recorded with the mark, under
// one lock: Stop's hand-back, Cancel and the heartbeat never see a run that
// is under way without it.
func (e *Engine) drive(ctx context.Context, id uuid.UUID, cancel context.CancelCauseFunc) (func(), runningAs, bool) {
	for {
		e.mu.Lock()
		rec := e.record(id)
		busy := rec.driving
		if busy == nil {
			mine := make(chan struct{})
			rec.driving = mine
			as := takeOver(rec, cancel, e.placeWaits.Load())
			e.mu.Unlock()
			return func() {
				e.mu.Lock()
				if rec, ok := e.execs[id]; ok && rec.driving == mine {
					rec.driving = nil
				}
				e.mu.Unlock()
				close(mine)
			}, as, true
		}
		e.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, runningAs{}, false
		}
	}
}

// runningAs is what a worker takes over from the dispatch it serves.
type runningAs struct {
	fresh    *flow.Execution    // handed over by DispatchNew, with a cancel requested while queued
	isNew    bool               // DispatchNew's, even when fresh was dropped: started, not resumed
	view     *store.CatalogView // DispatchNew's
	dispatch int                // the dispatch this run serves (for finished)
	cause    trace.SpanContext  // the request that dispatched it, to link
}

// takeOver marks rec as run by a worker and returns what it takes over
// (once). e.mu is held. DispatchNew's copy is taken only if the dispatcher
// never waited for a place since (placeWaits is still what it was): the
// first calls of a new execution go out before any write would check its
// lease or read a cancel, and while it queued another process may have
// been asked to cancel it (and answered 200), or, after this one stalled
// past the lease, taken it over and even completed it (both found by
// defect hunts with two processes). Otherwise the run reads the row, as
// any other dispatch's does. One that starts at once did not wait: a
// cancel sent meanwhile is like one sent during its first call.
func takeOver(rec *localExec, cancel context.CancelCauseFunc, placeWaits int64) runningAs {
	rec.cancel = cancel
	as := runningAs{fresh: rec.fresh, view: rec.view, isNew: rec.isNew, dispatch: rec.dispatches, cause: rec.cause}
	if as.fresh != nil && placeWaits != rec.handedAt {
		as.fresh, as.view = nil, nil
	}
	rec.fresh, rec.view, rec.isNew, rec.cause = nil, nil, false, trace.SpanContext{}
	if as.fresh != nil && rec.cancelRequested {
		as.fresh.CancelRequested = true
	}
	return as
}

// Wait returns a channel that yields once when the execution finishes
// here: what its terminal write read back (store.Tx.ReadBackExecution),
// or nil, when the caller reads the results itself.
func (e *Engine) Wait(id uuid.UUID) (<-chan *store.ExecutionResults, func()) {
	ch := make(chan *store.ExecutionResults, 1)
	e.mu.Lock()
	rec := e.record(id)
	rec.waiters = append(rec.waiters, ch)
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		rec, ok := e.execs[id]
		if !ok {
			return
		}
		if i := slices.Index(rec.waiters, ch); i >= 0 {
			rec.waiters = slices.Delete(rec.waiters, i, i+1)
		}
		if !rec.queued && len(rec.waiters) == 0 {
			delete(e.execs, id)
		}
	}
}

// waited reports whether a synchronous caller waits for id: its terminal
// write then reads the results back.
func (e *Engine) waited(id uuid.UUID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	rec, ok := e.execs[id]
	return ok && len(rec.waiters) > 0
}

// Cancel stops a running local execution at once (its worker then records
// it as cancelled); it reports whether the execution was running here.
func (e *Engine) Cancel(id uuid.UUID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	rec, ok := e.execs[id]
	if !ok || !rec.queued {
		return false
	}
	if rec.cancel != nil {
		rec.cancel(errCancelled)
		return true
	}
	rec.cancelRequested = true // still queued here: its worker sees it
	return false
}

var errCancelled = errors.New("cancelled")

// Ended counts and logs the end of an execution that a request ended with
// no run (a cancel of a pending or waiting one), as run.finished does a
// run's: no run took time, so its duration is 0.
func (e *Engine) Ended(ctx context.Context, ex *flow.Execution) {
	e.metrics.ExecutionFinished(ctx, ex.WorkflowID.String(), string(ex.Status), 0)
	if ce := e.log.Check(zap.InfoLevel, "Workflow execution finished"); ce != nil {
		ce.Write(append([]zap.Field{zap.String("workflow.id", ex.WorkflowID.String()),
			zap.String("execution.id", ex.ID.String()), zap.String("status", string(ex.Status)),
			zap.String("error.message", ex.ErrorMessage)}, telemetry.Trace(ctx)...)...)
	}
}

// Stop stops taking work, lets running executions finish for up to grace
// (their leases still renewed), then hands the rest back (their leases
// released for other processes).
func (e *Engine) Stop(grace time.Duration) {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		e.stop() // no execution starts any more; running ones finish
		e.attempts.Wait()
		e.loops.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		e.mu.Lock()
		for _, rec := range e.execs {
			if rec.cancel != nil {
				rec.cancel(errHandedBack)
			}
		}
		e.mu.Unlock()
		<-done
	}
	e.stopHeartbeat()
	e.heartbeats.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.store.ReleaseLeases(ctx, e.opts.Owner, e.now()); err != nil {
		e.log.Warn("releasing leases", zap.String("operation", "shutdown"), zap.String("error.message", err.Error()))
	}
}

var errHandedBack = errors.New("handed back at shutdown")

// maxRescue bounds the executions one rescue pass claims.
const maxRescue = 1000

// dispatch starts a goroutine for each queued execution as soon as one
// of the Concurrency places is free. No goroutine waits for work: an
// execution's goroutine ends with its attempt, or earlier when the run
// waits for provider slots (calls.go).
func (e *Engine) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-e.queue:
			select {
			case e.places <- struct{}{}:
			default: // every execution queued now waits: see placeWaits
				e.placeWaits.Add(1)
				select {
				case e.places <- struct{}{}:
					e.placeWaits.Add(1)
				case <-ctx.Done():
					return // still leased: Stop releases it for the next owner
				}
			}
			e.attempts.Add(1) // counted while the dispatcher runs, so never after Stop's Wait began
			go e.runOne(ctx, id)
		}
	}
}

// freePlace ends an attempt's hold on its place (runOne's end).
func (e *Engine) freePlace() {
	<-e.places
	e.attempts.Done()
}

func (e *Engine) every(ctx context.Context, d time.Duration, f func(context.Context)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.clock.After(d):
			f(ctx)
		}
	}
}

// beat runs the heartbeat every HeartbeatInterval at a fixed rate: the
// next beat is due one interval after the last one began, not after it
// ended. A beat waits for the rows other transactions hold until then at
// most, so it never delays the next one, and a row held across beats has
// a beat waiting for it nearly all the time: it is extended as soon as its
// holder ends, before any rescuer can claim it (store ExtendLeases).
func (e *Engine) beat(ctx context.Context) {
	next := e.clock.After(e.opts.HeartbeatInterval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-next:
		}
		next = e.clock.After(e.opts.HeartbeatInterval)
		e.heartbeat(ctx)
	}
}

// heartbeat extends the lease of every execution this process is working
// on (queued, running or waiting to be retried here), and of no other row:
// one it leased but lost track of lapses and is rescued. Once stopping,
// only runs under way keep theirs: one still queued will not start here,
// and its lease lapses for another process instead of lasting the grace.
//
// A row another transaction holds is waited for (PostgreSQL; on SQLite the
// statement waits for the one writer), until the next beat is due, in real
// time: skipping it, as the heartbeat once did, let its lease lapse while
// the holder — another replica's cancel waiting for the audit chain's
// lock, an operator's statement, a write of this process that then rolled
// back — extended nothing, and another process's rescue then called the
// provider again for a step this one was completing (docs/engine.md).
func (e *Engine) heartbeat(ctx context.Context) {
	e.mu.Lock()
	ids := make([]uuid.UUID, 0, len(e.execs))
	for id, rec := range e.execs {
		if rec.queued && (!e.stopping || rec.cancel != nil) {
			ids = append(ids, id)
		}
	}
	e.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	bounded, cancel := context.WithTimeout(ctx, e.opts.HeartbeatInterval)
	defer cancel()
	if _, err := e.store.ExtendLeases(bounded, e.opts.Owner, ids, e.LeaseUntil(e.now())); err != nil && ctx.Err() == nil {
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
		rec, here := e.execs[id]
		here = here && rec.queued
		e.mu.Unlock()
		if here { // our own, its lease lapsed during a stall: it is still queued or running here
			e.Release()
			continue
		}
		claimed++
		e.Dispatch(ctx, id) // linked to the recovery's span at start-up
	}
	if claimed > 0 {
		e.metrics.LeaseRescued(ctx, claimed)
		e.log.Info("claimed executions with expired leases", zap.String("operation", "engine.rescue"),
			zap.Int("count", claimed))
	}
	return claimed
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

// Backoff of an execution whose attempt failed transiently (the database
// was unreachable): it stays this process's (the heartbeat keeps its
// lease, so no rescuer would take it) and runs again here.
const (
	retryBase = 500 * time.Millisecond
	retryMax  = 30 * time.Second
)

// retryLater runs an execution again after a backoff that grows with its
// consecutive transient failures. A full engine postpones it again: it is
// never dropped while this process holds its lease.
func (e *Engine) retryLater(id uuid.UUID) {
	e.mu.Lock()
	rec := e.record(id)
	rec.cancel = nil
	rec.retries++
	wait := min(retryMax, retryBase<<min(rec.retries-1, 16))
	e.mu.Unlock()
	e.clock.AfterFunc(wait, func() {
		e.mu.Lock()
		stopping := e.stopping
		e.mu.Unlock()
		switch {
		case stopping: // Stop releases the lease: another process resumes it
		case e.Reserve():
			e.queue <- id
		default:
			e.retryLater(id)
		}
	})
}

// finished wakes synchronous waiters, with results the run read back
// (nil: none), and forgets the execution — unless it was dispatched again
// since this run began: a run that parked can be woken and dispatched
// before its worker gets here, and the record (the lease the heartbeat
// extends, the cancel) is then the next run's.
func (e *Engine) finished(id uuid.UUID, dispatch int, results *store.ExecutionResults) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rec, ok := e.execs[id]
	switch {
	case !ok:
	case rec.dispatches == dispatch:
		for _, ch := range rec.waiters {
			ch <- results // buffered, sent once; waiters share results and only read them
			close(ch)
		}
		delete(e.execs, id)
	default: // dispatched again: a cancel meanwhile is for the next run (takeOver)
		rec.cancel = nil
	}
}
