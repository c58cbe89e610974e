package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"flowker/internal/store"
)

// Pipelined is one statement a pipelined group commit sends with others
// in one round trip (Dialect.Pipeline). Row, when set, reads its one row
// (its Scan returns an error wrapping sql.ErrNoRows when there is none);
// Rows, when set, reads every row it returns. With neither it is an Exec,
// whose command tag Tag checks when set (pipelined only). Each may return
// an error: the batch is then rolled back and run again statement by
// statement (see runPipelined).
type Pipelined struct {
	SQL  string
	Args []any
	Row  func(scanner) error
	Rows func(rows) error
	Tag  func(tag string) error
	// Into, set by insertRows, is the head of a multi-row INSERT with no
	// handler ("INSERT INTO t (c1, …)"), Cols its columns: a pipelined
	// batch may send its rows with other callers' as one statement.
	Into string
	Cols int
	// Checked: its handler refuses nothing the server accepted (the server
	// itself fails what must not commit), so COMMIT may travel with it.
	// A statement with no handler needs no mark.
	Checked bool
}

// later is how the hot writes are issued: a statement whose outcome the
// caller needs only by commit. On a pipelined batch it is sent with the
// next flush; everywhere else it runs at once, so a handler has run (and
// its error been returned) when Later returns.
type later interface {
	Later(ctx context.Context, st Pipelined) error
	// Flush sends what Later queued and runs its handlers: their results
	// are needed now.
	Flush(ctx context.Context) error
}

func (c *conn) Later(ctx context.Context, st Pipelined) error {
	switch {
	case st.Row != nil:
		return st.Row(c.QueryRowContext(ctx, st.SQL, st.Args...))
	case st.Rows != nil:
		rs, err := c.query(ctx, true, st.SQL, st.Args) // read whole by the handler, then closed
		if err != nil {
			return err
		}
		err = st.Rows(rs)
		return firstErr(err, rs.Err(), rs.Close())
	default:
		_, err := c.ExecContext(ctx, st.SQL, st.Args...)
		return err
	}
}

func (c *conn) Flush(context.Context) error { return nil }

// pipeConn is a group-commit transaction on PostgreSQL that sends its
// writes together: Later queues a statement, and the queue is sent in one
// round trip (pgx's batch, pipelined) when a statement whose result is
// needed now runs, when the audit chain's head is read, and before or
// with COMMIT. A batch of any size is then one or two round trips
// instead of several per caller.
//
// COMMIT is sent after every caller's statement has been read back and
// its handler has accepted it (see commit).
//
// A queued statement's failure is known only at the flush, possibly while
// another caller's fn runs: failed keeps it, every later statement fails
// with it, and the batch is run again the classic way, one savepoint per
// caller, so each caller gets its own outcome.
type pipeConn struct {
	conn // statements that cannot wait, on the batch's connection
	raw  *sql.Conn
	send func(context.Context, *sql.Conn, []Pipelined) error

	caller int // the caller whose fn runs now; -1 outside them
	queued []Pipelined
	owners []int // queued[i] was queued by caller owners[i]
	failed error

	// immediate: Later runs a statement at once (a writeTx); only BEGIN
	// and COMMIT are queued.
	immediate bool
	committed bool
}

// pipeOn is a pipelined connection on raw, bound to no group commit.
func (s *DB) pipeOn(raw *sql.Conn) *pipeConn {
	return &pipeConn{conn: conn{db: raw, d: s.d}, raw: raw, send: s.d.Pipeline, caller: -1}
}

// beginPipe begins a transaction on a writer connection of its own; its
// BEGIN is sent with the first round trip. end gives the connection back.
func (s *DB) beginPipe(ctx, bound context.Context) (*pipeConn, error) {
	raw, err := s.wdb.Conn(ctx)
	if err != nil {
		return nil, s.d.classify(err)
	}
	p := s.pipeOn(raw)
	p.bound = bound
	_ = p.Later(ctx, Pipelined{SQL: "BEGIN"})
	return p, nil
}

func (p *pipeConn) Later(ctx context.Context, st Pipelined) error {
	if p.failed != nil {
		return p.failed
	}
	if p.immediate {
		if err := p.Flush(ctx); err != nil { // BEGIN
			return err
		}
		return p.conn.Later(ctx, st)
	}
	p.queued = append(p.queued, st)
	p.owners = append(p.owners, p.caller)
	return nil
}

func (p *pipeConn) Flush(ctx context.Context) error {
	if p.failed != nil || len(p.queued) == 0 {
		return p.failed
	}
	queued := coalesce(p.queued, p.owners)
	p.queued, p.owners = nil, nil
	ctx, done := p.bind(ctx)
	defer done()
	if err := p.send(ctx, p.raw, queued); err != nil {
		p.failed = p.d.classify(err)
	}
	return p.failed
}

func (p *pipeConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := p.Flush(ctx); err != nil {
		return nil, err
	}
	return p.conn.ExecContext(ctx, query, args...)
}

func (p *pipeConn) QueryContext(ctx context.Context, query string, args ...any) (rows, error) {
	if err := p.Flush(ctx); err != nil {
		return nil, err
	}
	return p.conn.QueryContext(ctx, query, args...)
}

func (p *pipeConn) QueryRowContext(ctx context.Context, query string, args ...any) scanner {
	if err := p.Flush(ctx); err != nil {
		return errRow{err}
	}
	return p.conn.QueryRowContext(ctx, query, args...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// runPipelined runs reqs in one pipelined transaction on a connection of
// its own and commits it. As runBatch without savepoints: a lone request's
// own error is its outcome; a failure with more, or any failure of a
// queued statement (whose caller may have moved on), is errIsolate.
func (s *DB) runPipelined(ctx context.Context, reqs []*batchReq) (results []error, err error) {
	p, err := s.beginPipe(ctx, ctx)
	if err != nil {
		return nil, err
	}
	q := s.inTxOn(p)
	defer func() {
		p.end()
		q.settle()
	}()
	results = make([]error, len(reqs))
	for i, r := range reqs {
		p.caller = i
		if results[i] = callSafely(r.fn, q); results[i] == nil && p.failed == nil {
			continue
		}
		switch {
		case ctx.Err() != nil:
			return nil, firstErr(p.failed, results[i])
		case p.failed == nil && len(reqs) == 1:
			return results, nil // its own error: rolled back by the deferred call
		default:
			return nil, errIsolate
		}
	}
	p.caller = -1
	if err = q.beforeCommit(ctx); err == nil {
		err = p.commit(ctx)
	}
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, store.ErrUnavailable) {
			return nil, err // the connection or the deadline: a rerun would only wait again
		}
		return nil, errIsolate
	}
	q.committed()
	return results, nil
}

// commit sends COMMIT once every caller's statement has been read back
// and its handler has accepted it: in the same round trip COMMIT would run
// even when a handler refuses a result the server accepted.
//
// It travels with the statements still queued when none of them has a
// handler that could refuse (Pipelined.Checked): the audit events chained
// on the server (their handler only records what the server decided), a
// progress write whose
// lease the server itself checks (Dialect.FenceLease), inserts. If the
// server refuses one of them, COMMIT is not run (or answers ROLLBACK:
// committedTag). That saves a round trip per batch. A statement sent with
// COMMIT can wait for a lock past the batch's deadline (a row another
// transaction holds, a CREATE INDEX on audit_events during a rolling
// deploy); Dialect.Pipeline then has the server cancel it rather than
// leave it to run, and COMMIT after it, once the lock goes.
func (p *pipeConn) commit(ctx context.Context) error {
	if !p.allChecked() {
		if err := p.Flush(ctx); err != nil {
			return err
		}
	}
	p.queued = append(p.queued, Pipelined{SQL: "COMMIT", Tag: committedTag})
	p.owners = append(p.owners, -1)
	if err := p.Flush(ctx); err != nil {
		return err
	}
	p.committed = true
	return nil
}

// end rolls back unless the transaction committed, and gives the
// connection back.
func (p *pipeConn) end() {
	if !p.committed {
		p.rollback()
	}
	_ = p.raw.Close()
}

// allChecked: no queued statement has a handler that could refuse its
// result.
func (p *pipeConn) allChecked() bool {
	for _, st := range p.queued {
		if (st.Row != nil || st.Rows != nil || st.Tag != nil) && !st.Checked {
			return false
		}
	}
	return true
}

// rollback ends a transaction that did not commit. A connection that
// cannot even roll back (lost, or cancelled half-way by the deadline) is
// dropped from the pool rather than handed to the next user.
func (p *pipeConn) rollback() {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	if _, err := p.raw.ExecContext(ctx, "ROLLBACK"); err != nil {
		_ = p.raw.Raw(func(any) error { return driver.ErrBadConn })
	}
}

const rollbackTimeout = 5 * time.Second

// errRolledBack: COMMIT ended a transaction a statement had aborted (one
// whose error a caller handled and went on): nothing was stored.
var errRolledBack = errors.New("commit resulted in a rollback: a statement of the batch failed")

// committedTag checks that COMMIT committed: PostgreSQL answers COMMIT of
// an aborted transaction with the tag ROLLBACK, and no error.
func committedTag(tag string) error {
	if tag != "COMMIT" {
		return fmt.Errorf("%w (tag %q)", errRolledBack, tag)
	}
	return nil
}
