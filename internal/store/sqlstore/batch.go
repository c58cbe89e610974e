package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"flowker/internal/store"
)

// maxBatch bounds how many callers share one transaction.
const maxBatch = 256

// BatchTimeout is the deadline of one group-commit transaction, from
// BEGIN to COMMIT. Every statement of the batch, including those a
// caller's fn runs with its own context, ends when it passes, so a hung
// connection or a row lock held elsewhere cannot block every writer (and
// shutdown) behind it: each caller of that batch gets an error wrapping
// store.ErrUnavailable instead. It is far above a healthy batch's time
// (milliseconds) and below the engine's lease duration.
const BatchTimeout = 10 * time.Second

var (
	errStoreClosed   = errors.New("store closed")
	errBatchDeadline = errors.New("group commit exceeded its deadline")
)

type batchReq struct {
	fn   func(store.Tx) error
	done chan error
}

// Batch queues fn for the group-commit loop and waits for its outcome. A
// lone caller is committed at once; under load, callers that arrive while a
// commit is in flight share the next one.
func (s *DB) Batch(ctx context.Context, fn func(store.Tx) error) error {
	select {
	case <-s.closed:
		return store.Unavailable(errStoreClosed)
	default:
	}
	req := &batchReq{fn: fn, done: make(chan error, 1)}
	select {
	case s.batches <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return store.Unavailable(errStoreClosed)
	}
	// Once queued, wait for the outcome even if ctx ends: the caller must
	// know whether its write committed. The loop answers every request it
	// takes; one queued after it stopped is answered here.
	select {
	case err := <-req.done:
		return err
	case <-s.loopDone:
		select {
		case err := <-req.done:
			return err
		default:
			return store.Unavailable(errStoreClosed)
		}
	}
}

// batchLoop runs until Close: take one request, add whatever else is
// waiting, commit them together. One loop per process: its transactions
// take row locks one batch at a time, so two of them cannot deadlock (with
// several loops, two batches each holding one caller's execution row and
// waiting for the other's did, under reviews and cancels).
func (s *DB) batchLoop() {
	defer close(s.loopDone)
	for {
		var first *batchReq
		select {
		case <-s.closed:
		default:
			select {
			case first = <-s.batches:
			case <-s.closed:
			}
		}
		if first == nil {
			for { // answer whoever is still queued
				select {
				case r := <-s.batches:
					r.done <- store.Unavailable(errStoreClosed)
				default:
					return
				}
			}
		}
		reqs := []*batchReq{first}
	drain:
		for len(reqs) < maxBatch {
			select {
			case r := <-s.batches:
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		s.commitBatch(reqs)
	}
}

// commitBatch commits reqs in one transaction. The common case, every fn
// succeeding, runs them back to back with no savepoints (a savepoint costs
// statements, and on SQLite a sub-journal write of every page it touches).
// If a fn fails, that transaction is rolled back — its writes cannot be
// told apart from its neighbours' — and the batch runs again with a
// savepoint per request, so only the failing request's writes are undone.
// If the transaction itself fails, each request is retried alone so one
// bad request cannot fail its neighbours — unless the batch ran out of
// time or the database is unavailable: then a retry would only make every
// caller wait again, and all of them get the error wrapping
// store.ErrUnavailable.
func (s *DB) commitBatch(reqs []*batchReq) {
	// Queued work is not abandoned with its caller (the base context is
	// not the caller's), but it is bounded by the batch deadline — one for
	// both runs — and Close may end it.
	ctx, cancel := context.WithTimeoutCause(s.batchCtx, s.batchTimeout,
		fmt.Errorf("%w (%s)", errBatchDeadline, s.batchTimeout))
	results, err := s.runBatch(ctx, reqs, false)
	if errors.Is(err, errIsolate) {
		results, err = s.runBatch(ctx, reqs, true)
	}
	cancel()
	s.stmts.w.prepareWanted(s.wdb) // outside any transaction: see stmtCache
	if err == nil {
		s.scrub.ifWanted() // before the answers: a write that wanted it returns once it ran (nothing, usually)
		for i, r := range reqs {
			r.done <- results[i]
		}
		return
	}
	if len(reqs) == 1 || errors.Is(err, store.ErrUnavailable) {
		for _, r := range reqs {
			r.done <- err
		}
		return
	}
	for _, r := range reqs {
		s.commitBatch([]*batchReq{r})
	}
}

// errIsolate: a request failed in a batch run without savepoints; the
// transaction was rolled back and the batch must run again with them.
var errIsolate = errors.New("a batched request failed: run the batch again with savepoints")

// runBatch runs reqs in one transaction and commits it. Without
// savepoints, a failing fn rolls everything back: a lone request's error
// is its outcome (results, nil), more make errIsolate.
func (s *DB) runBatch(ctx context.Context, reqs []*batchReq, savepoints bool) (results []error, err error) {
	defer func() {
		if err != nil && !errors.Is(err, errIsolate) && ctx.Err() != nil { // whatever failed, the deadline or Close is why
			// The failure is only told (%v): one caller's (a lease lost,
			// answered after the deadline) must not match for every caller.
			// One that carries the cause already (sendCommitting's, or
			// classify's once the store is closed) tells its failure so.
			// An outcome unknown is told as it is: its writes must not be
			// sent again.
			if cause := context.Cause(ctx); !errors.Is(err, cause) && !errors.Is(err, store.ErrOutcomeUnknown) {
				err = fmt.Errorf("%w (%v)", cause, err) //nolint:errorlint // see above
			}
			err = store.Unavailable(err)
		}
	}()
	if !savepoints && s.d.Pipeline != nil {
		return s.runPipelined(ctx, reqs)
	}
	tx, err := s.beginWrite(ctx, ctx)
	if err != nil {
		return nil, err
	}
	q := s.inTxOn(tx)
	defer func() {
		tx.end()
		q.settle()
	}()
	results = make([]error, len(reqs))
	for i, r := range reqs {
		if !savepoints {
			if results[i] = callSafely(r.fn, q); results[i] != nil {
				if ctx.Err() != nil {
					return nil, results[i] // the deadline or Close: see the deferred call
				}
				if len(reqs) == 1 {
					return results, nil // rolled back by the deferred call
				}
				return nil, errIsolate
			}
			continue
		}
		if err = q.savepoint(ctx, "SAVEPOINT batch_item"); err != nil {
			return nil, err
		}
		appended := len(q.audit)
		if results[i] = callSafely(r.fn, q); results[i] != nil {
			if err = q.savepoint(ctx, "ROLLBACK TO SAVEPOINT batch_item"); err != nil {
				return nil, err
			}
			q.audit = q.audit[:appended] // its audit events go with its writes
		}
		if err = q.savepoint(ctx, "RELEASE SAVEPOINT batch_item"); err != nil {
			return nil, err
		}
	}
	if err = q.beforeCommit(ctx); err != nil {
		return nil, err
	}
	if err = tx.commit(ctx); err != nil {
		return nil, err
	}
	q.committed()
	return results, nil
}

// callSafely runs one caller's fn in the shared transaction: a panic in it
// is that caller's error (its savepoint is rolled back), not the end of
// the writer every caller of the process depends on.
func callSafely(fn func(store.Tx) error, q *queries) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a batched write: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(q)
}
