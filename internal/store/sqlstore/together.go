package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// ExecutionWithSteps reads an execution and its steps as of one moment.
// Two reads could see a progress write land between them: steps the
// execution's row does not count yet, or a finished row with its last
// step missing.
func (s *DB) ExecutionWithSteps(ctx context.Context, id uuid.UUID) (*flow.Execution, []flow.Step, error) {
	var got store.ExecutionResults
	err := s.readTogether(ctx, resultReads(id, &got, false)...)
	switch {
	case err != nil:
		return nil, nil, err
	case got.Execution == nil:
		return nil, nil, flow.ErrExecutionNotFound
	}
	return got.Execution, got.Steps, nil
}

// ReadBackExecution: see store.Tx. Where the dialect pipelines its group
// commits (PostgreSQL) the two reads are queued in the transaction, so
// they travel with COMMIT and see exactly what it commits; their handlers
// refuse nothing the server accepted (Pipelined.Checked).
func (q *queries) ReadBackExecution(ctx context.Context, id uuid.UUID, got *store.ExecutionResults) error {
	*got = store.ExecutionResults{}
	if q.d.Pipeline == nil {
		return nil
	}
	for _, r := range resultReads(id, got, true) {
		if err := q.w.Later(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// resultReads are the reads of an execution and its steps into got, in
// that order: got is set by the second, and left empty when the
// execution is not found. lenient: stored JSON that does not decode
// leaves got empty instead of failing the read (the server's own errors
// still fail it).
func resultReads(id uuid.UUID, got *store.ExecutionResults, lenient bool) []Pipelined {
	var e *flow.Execution
	undecoded := func(err error) bool { return lenient && errors.Is(err, errStoredJSON) }
	return []Pipelined{
		{SQL: executions.selectSQL() + " WHERE id = $1", Args: []any{id.String()}, Checked: lenient,
			Row: func(r scanner) (err error) {
				switch e, err = executions.scan(r); {
				case errors.Is(err, sql.ErrNoRows) || undecoded(err):
					e = nil
					return nil // the steps' read still runs, and the transaction ends as usual
				}
				return err
			}},
		{SQL: `SELECT ` + stepColumns + ` FROM execution_steps WHERE execution_id = $1 ORDER BY step_number`,
			Args: []any{id.String()}, Checked: lenient,
			Rows: func(r rows) error {
				steps, err := scanSteps(r)
				switch {
				case undecoded(err):
					return nil
				case err == nil && e != nil:
					*got = store.ExecutionResults{Execution: e, Steps: steps[id]}
				}
				return err
			}},
	}
}

// readTogether runs reads in one read-only transaction, so that they see
// the database as of one moment. On PostgreSQL (Dialect.Pipeline) it is
// one round trip, BEGIN to ROLLBACK, at REPEATABLE READ: at READ COMMITTED
// each statement would see its own moment. Elsewhere (SQLite) it is a
// transaction of the read pool, whose first read fixes what the others
// see.
func (s *DB) readTogether(ctx context.Context, reads ...Pipelined) error {
	if s.d.Pipeline == nil {
		// Prepared on the pool before the transaction holds a connection
		// (see stmtCache): a statement first met inside one would
		// otherwise be parsed anew on every read.
		for _, r := range reads {
			s.stmts.r.stmt(ctx, s.rdb, s.d.params.rewrite(r.SQL))
		}
	}
	raw, err := s.rdb.Conn(ctx) // waiting for a reader honours ctx
	if err != nil {
		return s.d.classify(err)
	}
	defer func() { _ = raw.Close() }()
	if s.d.Pipeline == nil {
		// The reads are short (one execution's row and steps) and, in WAL
		// mode, do not wait for the writer: they run without ctx's
		// cancellation, for which database/sql and the driver would start
		// a goroutine per statement (and one for the transaction) to watch
		// it, waking an idle processor for each.
		ctx = context.WithoutCancel(ctx)
		tx, err := raw.BeginTx(ctx, nil)
		if err != nil {
			return s.d.classify(err)
		}
		defer func() { _ = tx.Rollback() }() // after Commit, a no-op
		c := &conn{db: tx, d: s.d, stmts: s.stmts.r}
		for _, r := range reads {
			if err := c.Later(ctx, r); err != nil {
				return err
			}
		}
		return s.d.classify(tx.Commit())
	}
	p := s.pipeOn(raw)
	_ = p.Later(ctx, Pipelined{SQL: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"})
	for _, r := range reads {
		_ = p.Later(ctx, r)
	}
	// Ended with ROLLBACK: it wrote nothing, and a round trip carrying
	// COMMIT is one Dialect.Pipeline does not give up on when ctx ends.
	_ = p.Later(ctx, Pipelined{SQL: "ROLLBACK"})
	if err := p.Flush(ctx); err != nil {
		p.rollback() // if ROLLBACK did not run; a connection that cannot roll back is dropped
		return err
	}
	return nil
}
