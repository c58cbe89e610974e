package sqlstore

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// walScrub empties the write-ahead log once a write has replaced or
// deleted sealed values (a catalog write, a retention delete), so their
// old ciphertext does not stay in the log's file (Dialect.ScrubWAL;
// docs/security.md, "At rest"). Other writes leave the file as it is:
// truncating it whenever it restarts made every commit grow the file
// again, and SQLite's fsync of a growing file flushes its size too.
//
// A scrub waits for no reader: while one still reads an older snapshot it
// is tried again after the next transaction ends.
type walScrub struct {
	db     *sql.DB
	run    func(context.Context, *sql.Conn) (done bool, err error)
	wanted atomic.Bool
}

// want marks the scrub wanted; ifWanted runs it once the transaction that
// wanted it has ended. Both are no-ops on a nil scrub (no ScrubWAL).
func (w *walScrub) want() {
	if w != nil {
		w.wanted.Store(true)
	}
}

// scrubTimeout bounds the wait for the writer connection and the scrub.
const scrubTimeout = 5 * time.Second

// ifWanted runs a wanted scrub on the writer pool, outside any
// transaction: the caller's has ended. A scrub that could not finish is
// wanted again.
func (w *walScrub) ifWanted() {
	if w == nil || !w.wanted.Swap(false) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrubTimeout)
	defer cancel()
	done := false
	if c, err := w.db.Conn(ctx); err == nil {
		done, err = w.run(ctx, c)
		_ = c.Close()
		done = done && err == nil
	}
	if !done {
		w.wanted.Store(true)
	}
}

// replacingSealed marks a write that may replace or delete sealed values
// (walScrub); done, after it, scrubs at once outside a transaction, or
// leaves it to the transaction's end.
func (q *queries) replacingSealed() (done func()) {
	q.scrub.want()
	if q.inTx || q.scrub == nil {
		return func() {}
	}
	return q.scrub.ifWanted
}
