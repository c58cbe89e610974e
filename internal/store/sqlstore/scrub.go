package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// walScrub empties the write-ahead log once a write has replaced or
// deleted sealed values (a write to a table.sealed, webhook routes, a
// retention delete), so their old ciphertext does not stay in the log's
// file (Dialect.ScrubWAL; docs/security.md, "At rest"). Other writes
// leave the file as it is: truncating it whenever it restarts made every
// commit grow the file again, and SQLite's fsync of a file that grew
// flushes its size too.
//
// A scrub waits for no reader (it would hold every write meanwhile): while
// a read is in progress it cannot finish, and a timer tries again, from
// firstRetry doubling to lastRetry, rather than every write after it.
type walScrub struct {
	db  *sql.DB
	run func(context.Context, *sql.Conn) (done bool, err error)

	wanted  atomic.Uint64   // writes that wanted a scrub, counted
	covered atomic.Uint64   // the count the last finished scrub covered
	base    context.Context // every scrub's; stop ends it: no scrub from then on, none waited for
	stopped context.CancelFunc

	mu      sync.Mutex // one scrub at a time; guards what follows
	retry   *time.Timer
	backoff time.Duration
	tried   uint64 // the count the last scrub that could not finish covered
}

func newWALScrub(db *sql.DB, run func(context.Context, *sql.Conn) (bool, error)) *walScrub {
	w := &walScrub{db: db, run: run}
	w.base, w.stopped = context.WithCancel(context.Background())
	return w
}

const (
	scrubTimeout = 5 * time.Second // the wait for the writer connection, and the scrub
	firstRetry   = 50 * time.Millisecond
	lastRetry    = 2 * time.Second
)

// want counts a write that needs a scrub. Inside a transaction it is
// called while the transaction holds the writer connection, so a scrub
// that counts it runs after the transaction ends; outside one, after the
// statement. No-op on a nil scrub (no Dialect.ScrubWAL).
func (w *walScrub) want() {
	if w != nil {
		w.wanted.Add(1)
	}
}

// ifWanted returns once a scrub covering every write that wanted one
// before the call has finished, running it if none is; or once it could
// not finish (a read was in the way: the retry is the timer's). While a
// retry is pending, only a write that wants a scrub itself tries at once:
// the others (the hot path) do not pay for a checkpoint each. The caller
// holds no transaction.
func (w *walScrub) ifWanted() {
	if w == nil {
		return
	}
	target := w.wanted.Load()
	if w.covered.Load() >= target {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.covered.Load() >= target || (w.retry != nil && w.tried >= target) || w.base.Err() != nil {
		return
	}
	w.scrubLocked()
}

// scrubLocked runs a scrub on the writer pool; on failure it schedules the
// retry. w.mu is held.
func (w *walScrub) scrubLocked() {
	target := w.wanted.Load()
	ctx, cancel := context.WithTimeout(w.base, scrubTimeout)
	defer cancel()
	done := false
	if c, err := w.db.Conn(ctx); err == nil {
		done, err = w.run(ctx, c)
		_ = c.Close()
		done = done && err == nil
	}
	if done {
		w.covered.Store(target)
		w.backoff = 0
		if w.retry != nil && w.wanted.Load() <= target {
			w.retry.Stop()
			w.retry = nil
		}
		return
	}
	w.tried = target
	if w.retry != nil || w.base.Err() != nil {
		return // the pending retry will try again
	}
	w.backoff = min(max(2*w.backoff, firstRetry), lastRetry)
	var t *time.Timer
	t = time.AfterFunc(w.backoff, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.retry != t {
			return // stopped, or replaced, while this one waited for the lock
		}
		w.retry = nil
		if w.base.Err() == nil && w.covered.Load() < w.wanted.Load() {
			w.scrubLocked()
		}
	})
	w.retry = t // before the callback can take the lock
}

// stop ends the retries (Close). It does not wait for a scrub in flight,
// which may be waiting for the writer connection: that wait is cancelled.
func (w *walScrub) stop() {
	if w == nil {
		return
	}
	w.stopped()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.retry != nil {
		w.retry.Stop()
		w.retry = nil
	}
}

// replacingSealed marks a write that may replace or delete sealed values;
// done is called after it. In a transaction the scrub is wanted now and
// runs once the transaction ends (InTx, commitBatch); outside one, done
// wants it and runs it, after the statement.
func (q *queries) replacingSealed() (done func()) {
	if q.inTx {
		q.scrub.want()
		return func() {}
	}
	return func() { q.scrub.want(); q.scrub.ifWanted() }
}
