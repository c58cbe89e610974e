package sqlstore

import (
	"context"
	"database/sql"
)

// writeTx is a transaction of the writer pool: InTx's, or a group commit
// run with a savepoint per caller. Its statements run when issued.
type writeTx interface {
	execer
	// commit commits; an error means nothing was committed, unless it
	// says the outcome is unknown (the server stopped answering).
	commit(ctx context.Context) error
	// end rolls back unless commit succeeded, and gives the connection
	// back.
	end()
}

// beginWrite begins a writeTx; bound is a group commit's context (see
// conn), nil for InTx. On PostgreSQL it is a pipeConn whose statements run
// when issued: its COMMIT then goes through Dialect.Pipeline, which does
// not give up on a COMMIT when ctx ends but has the server cancel it and
// reads the answer. database/sql's Commit would drop the connection with
// COMMIT in flight, and a caller told "failed" could find its write
// committed (a COMMIT waiting for a synchronous standby, or for a lock a
// deferred constraint takes).
func (s *DB) beginWrite(ctx, bound context.Context) (writeTx, error) {
	if s.d.Pipeline != nil {
		p, err := s.beginPipe(ctx, bound)
		if err != nil {
			return nil, err
		}
		p.immediate = true
		return p, nil
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.d.classify(err)
	}
	return &sqlTx{conn: conn{db: tx, d: s.d, bound: bound, stmts: s.stmts.w}, tx: tx}, nil
}

// sqlTx is a database/sql transaction: SQLite's, in-process, where
// COMMIT's outcome is always known.
type sqlTx struct {
	conn
	tx        *sql.Tx
	committed bool
}

func (t *sqlTx) commit(context.Context) error {
	if err := t.tx.Commit(); err != nil {
		return t.d.classify(err)
	}
	t.committed = true
	return nil
}

func (t *sqlTx) end() {
	if !t.committed {
		_ = t.tx.Rollback()
	}
}
