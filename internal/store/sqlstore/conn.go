package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// sqlConn is what *sql.DB and *sql.Tx have in common.
type sqlConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rows is the part of *sql.Rows the queries use.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// execer runs the shared SQL; conn is its implementation.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) scanner
	later
}

// conn runs statements on a pool or a transaction and is the store's
// error boundary: every driver error leaves through classify. Inside a
// group commit, bound is the batch's context: each statement ends when it
// does (or is refused once it has: Dialect.DeadlineBetweenStatements), and
// only then. The caller's own cancellation is ignored there: a
// statement cancelled half-way aborts the shared transaction (pgx may even
// close its connection), which would fail every other caller in the batch.
type conn struct {
	db    sqlConn
	d     *Dialect
	bound context.Context // nil outside a batch
	stmts *stmtCache      // the pool's prepared statements; nil when the driver caches its own
}

// prepared returns query's cached statement, bound to the transaction when
// c is one, or nil: run it unprepared.
func (c *conn) prepared(ctx context.Context, query string) *sql.Stmt {
	if c.stmts == nil {
		return nil
	}
	switch db := c.db.(type) {
	case *sql.DB:
		return c.stmts.stmt(ctx, db, query)
	case *sql.Tx:
		if st := c.stmts.stmt(ctx, nil, query); st != nil {
			return db.StmtContext(ctx, st)
		}
	}
	return nil
}

func nop() {}

// bind returns ctx, also ended (with the batch's cause) when the batch's
// context ends — or, with Dialect.DeadlineBetweenStatements, already ended
// if it has, and never otherwise — and the function that releases it.
func (c *conn) bind(ctx context.Context) (context.Context, func()) {
	if c.bound == nil {
		return ctx, nop
	}
	if c.d.DeadlineBetweenStatements {
		if c.bound.Err() == nil {
			return context.WithoutCancel(ctx), nop // no Done channel: nothing for the driver to watch
		}
		ended, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		cancel(context.Cause(c.bound)) // the batch has ended: refused
		return ended, nop
	}
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	if c.bound.Err() != nil { // ended already: refused now, not once AfterFunc's goroutine runs
		cancel(context.Cause(c.bound))
		return ctx, nop
	}
	stop := context.AfterFunc(c.bound, func() { cancel(context.Cause(c.bound)) })
	return ctx, func() { stop(); cancel(nil) }
}

func (c *conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query = c.d.params.rewrite(query)
	ctx, done := c.bind(ctx)
	defer done()
	var res sql.Result
	var err error
	if st := c.prepared(ctx, query); st != nil { //nolint:sqlclosecheck // cached: stmtCache.close closes it, a transaction's copy closes with it
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = c.db.ExecContext(ctx, query, args...)
	}
	return res, c.d.classify(err)
}

func (c *conn) QueryContext(ctx context.Context, query string, args ...any) (rows, error) {
	return c.query(ctx, false, query, args)
}

// query runs a statement returning rows. Not a cached statement inside a
// transaction, unless drained (its rows are read and closed before any
// other statement runs): its result set stays open while the caller reads
// it, and the same statement run again in that transaction meanwhile would
// share SQLite's one handle of it. (Exec and QueryRow are done with the
// handle when they return.)
func (c *conn) query(ctx context.Context, drained bool, query string, args []any) (rows, error) {
	query = c.d.params.rewrite(query)
	ctx, done := c.bind(ctx)
	var rs *sql.Rows
	var err error
	_, inTx := c.db.(*sql.Tx)
	if st := c.prepared(ctx, query); st != nil && (drained || !inTx) { //nolint:sqlclosecheck // as in ExecContext
		rs, err = st.QueryContext(ctx, args...) //nolint:rowserrcheck // the caller checks Err of the wrapper
	} else {
		rs, err = c.db.QueryContext(ctx, query, args...) //nolint:rowserrcheck // as above
	}
	if err != nil {
		done()
		return nil, c.d.classify(err)
	}
	return &classifiedRows{rs: rs, d: c.d, done: done}, nil
}

func (c *conn) QueryRowContext(ctx context.Context, query string, args ...any) scanner {
	query = c.d.params.rewrite(query)
	ctx, done := c.bind(ctx)
	if st := c.prepared(ctx, query); st != nil { //nolint:sqlclosecheck // cached: stmtCache.close closes it, a transaction's copy closes with it
		return &classifiedRow{row: st.QueryRowContext(ctx, args...), d: c.d, done: done}
	}
	return &classifiedRow{row: c.db.QueryRowContext(ctx, query, args...), d: c.d, done: done}
}

type classifiedRows struct {
	rs   *sql.Rows
	d    *Dialect
	done func()
}

func (r *classifiedRows) Next() bool             { return r.rs.Next() }
func (r *classifiedRows) Scan(dest ...any) error { return r.d.classify(r.rs.Scan(dest...)) }
func (r *classifiedRows) Err() error             { return r.d.classify(r.rs.Err()) }

func (r *classifiedRows) Close() error {
	err := r.rs.Close()
	r.done()
	return r.d.classify(err)
}

type classifiedRow struct {
	row  *sql.Row
	d    *Dialect
	done func()
}

func (r *classifiedRow) Scan(dest ...any) error {
	defer r.done()
	return r.d.classify(r.row.Scan(dest...))
}

// classify turns a driver error into the store's outcomes: a value the
// database refused is store.ErrUnstorable (permanent, 400); a lost or
// refused connection, or the server unable to take the work now, is
// store.ErrUnavailable (transient, 503), and so is any failure once the
// store is closed (a request that outlived shutdown: another replica can
// serve it). Both wrap the original error. Cancellation and deadlines pass
// unchanged (the caller's context ended; store.Transient still reports a
// deadline as worth a retry), and so does everything else: constraint
// violations, sql.ErrNoRows, our own bugs.
func (d *Dialect) classify(err error) error {
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var fe *flow.Error
	if errors.As(err, &fe) {
		return err // already classified, or a domain outcome
	}
	select {
	case <-d.closed:
		// Only told (%v): in a group commit it may be one caller's own
		// failure (a lease lost), and every caller gets this error.
		return store.Unavailable(fmt.Errorf("%w: %v", errStoreClosed, err)) //nolint:errorlint // see above
	default:
	}
	if d.RefusedValue != nil {
		if why, ok := d.RefusedValue(err); ok {
			return store.Unstorable(err, "the database refused a value: %s", why)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if store.Transient(err) || (d.IsUnavailable != nil && d.IsUnavailable(err)) {
		return store.Unavailable(err)
	}
	return err
}
