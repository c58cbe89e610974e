package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/jsonenc"
	"flowker/internal/store"
	"flowker/internal/telemetry"
)

// Dispatcher is the engine as the service sees it: a place is reserved
// before an execution is inserted, so accepted work always has a worker.
type Dispatcher interface {
	Owner() string
	LeaseUntil(now time.Time) time.Time
	Reserve() bool
	Release()
	// Dispatch runs an execution leased here; the span in ctx (a retry's
	// request) is linked from the run's.
	Dispatch(ctx context.Context, id uuid.UUID)
	// DispatchNew hands over an execution just inserted, with the catalog
	// view its insert filled (store.Tx.ReadCatalogView).
	DispatchNew(ex *flow.Execution, view *store.CatalogView)
	Wait(id uuid.UUID) (<-chan *store.ExecutionResults, func())
	Cancel(id uuid.UUID) bool
	// Ended counts and logs the end of an execution a request ended with
	// no run (a cancel of a pending or waiting one), as a run's end is.
	Ended(ctx context.Context, ex *flow.Execution)
	// Wake records a change that may resolve a wait and wakes the
	// execution in the same transaction (docs/waiting.md).
	Wake(ctx context.Context, change func(tx store.Tx, now time.Time) (uuid.UUID, bool, error)) error
}

// WithDispatcher connects the engine.
func WithDispatcher(d Dispatcher) Option { return func(s *Service) { s.engine = d } }

// StartRequest starts an execution.
type StartRequest struct {
	WorkflowID     uuid.UUID
	Input          map[string]any
	IdempotencyKey string        // optional on webhooks
	TriggerNodeID  string        // "" = the workflow's first trigger
	Wait           time.Duration // synchronous mode: wait this long for the result
	// Fingerprint makes two requests the same for Idempotency-Key replays;
	// "" means the hash of Input and the trigger. Webhooks leave out what
	// differs on every delivery of the same call (arrival time, headers).
	Fingerprint string
}

// StartResult is a started (or replayed) execution and, when it finished
// within the wait, its results.
type StartResult struct {
	Execution *flow.Execution
	Replayed  bool
	Results   *Results
}

// Results is an execution with its steps, for the results endpoint.
type Results = store.ExecutionResults

func executionAttr(id uuid.UUID) trace.SpanStartOption {
	return trace.WithAttributes(attribute.String("execution.id", id.String()))
}

// StartExecution inserts an execution, durably, and hands it to a worker.
// A repeated Idempotency-Key returns the original execution; the same key
// with a different input is refused.
func (s *Service) StartExecution(ctx context.Context, req StartRequest) (res *StartResult, err error) {
	ctx, end := s.op(ctx, "command.execution.create", workflowAttr(req.WorkflowID))
	defer end(&err)
	hash := req.Fingerprint
	if hash == "" {
		hash = requestHash(req.Input, req.TriggerNodeID)
	}
	if req.IdempotencyKey != "" {
		if res, err := s.replay(ctx, req, hash); res != nil || err != nil {
			return res, err
		}
	}
	w, err := s.startInfo(ctx, req.WorkflowID)
	if err != nil {
		return nil, err
	}
	if w.status != flow.StatusActive {
		return nil, flow.ErrWorkflowNotActive
	}
	trigger, err := w.pickTrigger(req.TriggerNodeID)
	if err != nil {
		return nil, err
	}
	// Secrets in the input (secret-named fields, header values, URL user
	// info) are sealed at rest like configurations, for this execution
	// only; the engine opens them. A value the client sent that looks
	// sealed is sealed like any other, never kept as one of ours: another
	// execution's ciphertext, copied from the database, reads back as the
	// text sent, on every run (found by a defect hunt).
	id := s.newID()
	input, err := s.box.SealInput(id, req.Input)
	if err != nil {
		return nil, err
	}
	if s.engine == nil || !s.engine.Reserve() {
		return nil, flow.ErrQueueFull
	}
	now := s.now()
	until := s.engine.LeaseUntil(now)
	trace := telemetry.TraceCarrier(ctx)
	ex := &flow.Execution{ID: id, WorkflowID: req.WorkflowID, WorkflowRevision: w.revision, TriggerNodeID: trigger,
		Status: flow.ExecRunning, Input: input, IdempotencyKey: req.IdempotencyKey, RequestHash: hash,
		TraceParent: trace["traceparent"], TraceState: trace["tracestate"], Baggage: trace["baggage"],
		LeaseOwner: s.engine.Owner(), LeaseExpiresAt: &until, StartedAt: now, UpdatedAt: now}
	if ex.Input == nil {
		ex.Input = map[string]any{}
	}
	// Encoded here, on the request's goroutine: the group commit's one
	// writer, which every start and step waits for, only runs the insert.
	insert, err := s.store.EncodeExecution(ex)
	if err != nil {
		s.engine.Release()
		return nil, err
	}
	var done <-chan *store.ExecutionResults
	if req.Wait > 0 {
		var stop func()
		done, stop = s.engine.Wait(ex.ID)
		defer stop()
	}
	started := s.auditEvent(ctx, audit.ExecutionStarted, "EXECUTE", "SUCCESS", resExecution, ex.ID.String(),
		map[string]any{"workflow.id": req.WorkflowID.String(), "workflow.revision": w.revision})
	view := store.NewCatalogView() // for the first steps' lookups: see Dispatcher.DispatchNew
	err = s.store.Batch(ctx, func(tx store.Tx) error {
		if err := tx.CreateEncodedExecution(ctx, insert); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, started); err != nil {
			return err
		}
		return tx.ReadCatalogView(ctx, view)
	})
	if errors.Is(err, store.ErrDuplicateIdempotencyKey) { // a concurrent request with the same key won
		s.engine.Release()
		res, err := s.replay(ctx, req, hash)
		if res == nil && err == nil {
			err = errors.New("idempotency key conflict could not be resolved")
		}
		return res, err
	}
	switch {
	case errors.Is(err, store.ErrOutcomeUnknown):
		// The insert may have landed (then it runs: giveUp dispatches it).
		// Answered "unavailable, retry", a caller without an Idempotency-Key
		// would start it twice: what is durable decides the answer. Not
		// found proves nothing — a COMMIT still on its way may land after
		// the read (found by a review) — so only found decides.
		s.giveUp(ctx, ex.ID, err)
		if s.readBack(ctx, ex.ID) == nil {
			return nil, errStartUnknown
		}
	case err != nil:
		s.giveUp(ctx, ex.ID, err)
		return nil, err
	default:
		handed := *ex
		handed.Input = req.Input // the engine works on plaintext: no open of what was just sealed
		if handed.Input == nil {
			handed.Input = map[string]any{}
		}
		s.engine.DispatchNew(&handed, view)
	}
	res = &StartResult{Execution: ex}
	if done != nil {
		res.Results, res.Execution = s.waitFor(ctx, ex, done, req.Wait, false)
	}
	return res, nil
}

func (s *Service) replay(ctx context.Context, req StartRequest, hash string) (*StartResult, error) {
	ex, err := s.store.FindExecutionByKey(ctx, req.WorkflowID, req.IdempotencyKey)
	if flow.KindOf(err) == flow.KindNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// A replay writes nothing, so no insert's guard verifies the lookups
	// that led here (a route or token already changed elsewhere): under a
	// guarded view the call is served again with the catalog read.
	if _, unverified := store.CatalogViewOf(ctx).Unverified(); unverified {
		return nil, store.ErrCatalogMoved
	}
	if ex.RequestHash != hash {
		return nil, flow.ErrIdempotencyReused
	}
	res := &StartResult{Execution: ex, Replayed: true}
	if req.Wait > 0 {
		// The wait is registered before the execution is read again, and
		// what is read then decides: a run that ended, or stopped to wait,
		// between the lookup above and the registration tells no one, and a
		// finished execution may have been retried since.
		done, stop := s.engine.Wait(ex.ID)
		defer stop()
		res.Results, res.Execution = s.waitFor(ctx, ex, done, req.Wait, true)
	}
	return res, nil
}

// waitPoll is how often a synchronous caller reads the execution while it
// waits: the engine tells it when the execution ends here, not when it
// ends in another process (a replay served by another replica).
const waitPoll = 200 * time.Millisecond

// waitFor waits, at most d, for an execution to end or to stop at a review,
// callback or delay, and returns its results (nil unless it ended) with the
// execution as last read. done says when it ends here (what its terminal
// write read back, or nil: read it); it is also read every waitPoll, for
// one that ends elsewhere or whose results could not be read, and at once
// when readFirst (a replay's: it may have ended before done was
// registered).
func (s *Service) waitFor(ctx context.Context, ex *flow.Execution, done <-chan *store.ExecutionResults, d time.Duration,
	readFirst bool) (*Results, *flow.Execution) {
	// The wait, and its reads with it, end at d: a read that hung held the
	// caller past the wait it asked for, and a goroutine in the store after
	// it left (found by a defect hunt).
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	poll := time.NewTicker(waitPoll)
	defer poll.Stop()
	read := readFirst
	for {
		if read {
			if now, err := s.store.GetExecution(ctx, ex.ID); err == nil {
				ex = now
				if ex.Status != flow.ExecPending && ex.Status != flow.ExecRunning {
					if r, now, ok := s.answer(ctx, ex, nil); ok {
						return r, now
					}
				}
			}
		}
		select {
		case r := <-done:
			if r, now, ok := s.answer(ctx, ex, r); ok {
				return r, now
			}
			done = nil // told once (then closed): its results are read again at the next poll
		case <-poll.C:
			read = true
		case <-ctx.Done(): // the wait is over (or the caller left)
			return nil, ex
		}
	}
}

// answer is waitFor's once the execution ended or stopped: r, or its
// results read now (ok false if they could not be), and the execution as
// they give it; nil results unless it ended.
func (s *Service) answer(ctx context.Context, ex *flow.Execution, r *Results) (*Results, *flow.Execution, bool) {
	if r == nil {
		var err error
		if r, err = s.results(ctx, ex.ID); err != nil {
			return nil, ex, false
		}
	}
	if !r.Execution.Status.Terminal() {
		return nil, r.Execution, true
	}
	return r, r.Execution, true
}

// requestHash fingerprints a start request for idempotent replays.
//
// The text hashed is encoding/json's (map keys sorted: a canonical encoding
// of JSON values), written by jsonenc: fingerprints stored before it still
// match (TestRequestHashIsEncodingJSONs).
func requestHash(identity any, trigger string) string {
	b, _ := jsonenc.Marshal(identity)
	sum := sha256.Sum256(append(b, trigger...))
	return hex.EncodeToString(sum[:])
}

// GetExecution returns an execution's status.
func (s *Service) GetExecution(ctx context.Context, id uuid.UUID) (ex *flow.Execution, err error) {
	ctx, end := s.op(ctx, "query.execution.get", executionAttr(id))
	defer end(&err)
	return s.store.GetExecution(ctx, id)
}

// ListExecutions returns a page of executions.
func (s *Service) ListExecutions(ctx context.Context, f flow.ExecutionFilter) (p flow.Page[flow.Execution], err error) {
	ctx, end := s.op(ctx, "query.execution.list")
	defer end(&err)
	return s.store.ListExecutions(ctx, f)
}

// ExecutionResults returns an execution with its steps so far: progress is
// visible while it runs.
func (s *Service) ExecutionResults(ctx context.Context, id uuid.UUID) (r *Results, err error) {
	ctx, end := s.op(ctx, "query.execution.get_results", executionAttr(id))
	defer end(&err)
	return s.results(ctx, id)
}

func (s *Service) results(ctx context.Context, id uuid.UUID) (*Results, error) {
	ex, steps, err := s.store.ExecutionWithSteps(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Results{Execution: ex, Steps: steps}, nil
}

// CancelExecution cancels a pending execution at once, and a running one
// as soon as its worker sees the request (at once when it runs here).
func (s *Service) CancelExecution(ctx context.Context, id uuid.UUID) (ex *flow.Execution, err error) {
	ctx, end := s.op(ctx, "command.execution.cancel", executionAttr(id))
	defer end(&err)
	before, err := s.store.GetExecution(ctx, id)
	if err != nil {
		return nil, err
	}
	if before.Status.Terminal() {
		return nil, flow.Errorf(flow.KindUnprocessable, "FLK-0513",
			"execution already finished with status %s; nothing to cancel", before.Status)
	}
	// Group-committed like every other write to an execution row, so it
	// takes the row and audit locks in the engine's order (PostgreSQL saw
	// deadlocks between a cancel's transaction and a batch).
	var ended bool // by this request: the execution was pending or waiting
	err = s.store.Batch(ctx, func(tx store.Tx) error {
		var changed bool
		if ex, changed, err = tx.RequestCancel(ctx, id, s.now()); err != nil || changed {
			if err != nil {
				return err
			}
			if err := s.cancelWaits(ctx, tx, ex); err != nil {
				return err
			}
			meta := map[string]any{"workflow.id": ex.WorkflowID.String(), "status": string(ex.Status)}
			if err := s.record(ctx, tx, audit.ExecutionCancelRequested, "CANCEL", resExecution, id.String(), meta); err != nil {
				return err
			}
			if ended = ex.Status.Terminal(); ended { // its end, as a run's end is recorded
				return s.record(ctx, tx, audit.ExecutionCancelled, "CANCEL", resExecution, id.String(),
					map[string]any{"workflow.id": ex.WorkflowID.String()})
			}
			return nil
		}
		if ex.Status.Terminal() { // it finished since it was read: nothing to cancel, nothing to record
			return flow.Errorf(flow.KindUnprocessable, "FLK-0513",
				"execution already finished with status %s; nothing to cancel", ex.Status)
		}
		return nil // a cancel was already requested: answered again, recorded once
	})
	if err != nil {
		return nil, err
	}
	switch {
	case s.engine == nil:
	case ended:
		s.engine.Ended(ctx, ex)
	default:
		s.engine.Cancel(id)
	}
	return ex, nil
}

// RetryExecution runs a failed or cancelled execution again from its
// failed steps; completed steps are kept and not run again.
func (s *Service) RetryExecution(ctx context.Context, id uuid.UUID) (ex *flow.Execution, err error) {
	ctx, end := s.op(ctx, "command.execution.retry", executionAttr(id))
	defer end(&err)
	if s.engine == nil || !s.engine.Reserve() {
		return nil, flow.ErrQueueFull
	}
	// Read, then written, within one write deadline (boundedTx's): the
	// read unbounded held the request and an engine place for as long as
	// it hung (found by a review).
	bounded, cancel := context.WithTimeoutCause(ctx, s.writeDeadline, errCatalogWriteDeadline)
	defer cancel()
	calls, err := s.retryCalls(bounded, id)
	if err != nil {
		s.engine.Release()
		if errors.Is(context.Cause(bounded), errCatalogWriteDeadline) {
			err = errCatalogWriteDeadline
		}
		return nil, err
	}
	now := s.now()
	// Its own transaction, bounded as a catalog write's: its check may wait
	// for the catalog lock (refuseRetryMoved), and in a group commit every
	// start and step of the batch waited with it, then failed at the
	// batch's deadline (found by a defect hunt). It takes the execution's
	// row, the catalog's and the audit chain's, in the order batches and
	// catalog writes do.
	err = s.boundedTx(bounded, len(calls) > 0, func(ctx context.Context, tx store.Tx) error {
		if ex, err = tx.Requeue(ctx, id, s.engine.Owner(), now, s.engine.LeaseUntil(now)); err != nil {
			return err
		}
		if err := refuseRetryMoved(ctx, tx, ex, calls); err != nil { // checked with the requeue: one decision
			return err
		}
		return s.record(ctx, tx, audit.ExecutionRetried, "RETRY", resExecution, id.String(),
			map[string]any{"workflow.id": ex.WorkflowID.String()})
	})
	if errors.Is(err, store.ErrOutcomeUnknown) {
		// Requeued (running, leased here) it runs: answered as retried.
		// Anything else proves nothing: the requeue may still land. Read
		// before the dispatch: until then only the requeue makes it so, and
		// after it the run may end, or stop to wait, first (found by a review).
		got := s.readBack(ctx, id)
		s.giveUp(ctx, id, err)
		if got != nil && got.Status == flow.ExecRunning && got.LeaseOwner == s.engine.Owner() {
			return got, nil
		}
		return nil, errRetryUnknown
	}
	if err != nil {
		s.giveUp(ctx, id, err)
		return nil, err
	}
	s.engine.Dispatch(ctx, id)
	return ex, nil
}

// errStartUnknown and errRetryUnknown answer a start or a retry whose
// write may have committed and is not seen committed: it may run. Their
// own code, with no Retry-After (httpapi): sent again, a start without an
// Idempotency-Key would start twice, a retry would run the failed call
// once more than asked.
var (
	errStartUnknown = &flow.Error{Kind: flow.KindUnavailable, Code: flow.CodeOutcomeUnknown,
		Message: "the database did not confirm the start and it is not seen stored: the execution may have " +
			"started; send the request again only with the same Idempotency-Key, which answers with it if it did"}
	errRetryUnknown = &flow.Error{Kind: flow.KindUnavailable, Code: flow.CodeOutcomeUnknown,
		Message: "the database did not confirm the retry and it is not seen applied: the execution may be running " +
			"again; read it before retrying it again"}
)

// readBack reads an execution whose write's answer was lost, on a context
// of its own: the request's may be what ended. nil when not found or not
// readable.
func (s *Service) readBack(ctx context.Context, id uuid.UUID) *flow.Execution {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readBackTimeout)
	defer cancel()
	ex, err := s.store.GetExecution(rctx, id)
	if err != nil {
		return nil
	}
	return ex
}

// readBackTimeout bounds the read of what a write whose answer was lost did.
const readBackTimeout = 2 * time.Second

// giveUp ends a start or a retry whose write failed, holding an engine
// place. A write whose answer was lost may have landed, leasing the
// execution to this process: it is run from what is stored (nothing, if
// the write did not land), not left to be rescued when the lease lapses.
func (s *Service) giveUp(ctx context.Context, id uuid.UUID, err error) {
	if errors.Is(err, store.ErrOutcomeUnknown) {
		s.engine.Dispatch(ctx, id)
		return
	}
	s.engine.Release()
}
