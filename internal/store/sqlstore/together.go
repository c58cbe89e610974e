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
	err := s.readTogether(ctx, resultReads(id, &got, nil)...)
	switch {
	case err != nil:
		return nil, nil, err
	case got.Execution == nil:
		return nil, nil, flow.ErrExecutionNotFound
	}
	return got.Execution, got.Steps, nil
}

// ReadBackExecution: see store.Tx. The two reads run in the transaction,
// after its writes, so they see exactly what it commits. Where the dialect
// pipelines its group commits (PostgreSQL) they are queued, and travel
// with COMMIT; on SQLite they run at once on the writer's connection,
// whose cache holds the pages just written, where a read of its own would
// take a reader, start a transaction and read those pages again from the
// file. Their handlers refuse nothing the database accepted
// (Pipelined.Checked): they pass on its own errors only (the transaction
// fails then anyway), and a row they cannot convert or decode leaves got
// empty instead of failing a write that commits.
func (q *queries) ReadBackExecution(ctx context.Context, id uuid.UUID, got *store.ExecutionResults) error {
	*got = store.ExecutionResults{}
	pass := q.d.IsServerError
	if q.d.Pipeline == nil {
		// The reads run at once, and a read SQLite failed (an I/O error,
		// the disk full, no memory) may have rolled the transaction back:
		// let go, the statements after it would commit one by one. Only a
		// row the store could not take in is let go. Once the store is
		// closing, classify keeps no more than a failure's text (see
		// there), so every failure is passed on then, as is an ended batch.
		pass = func(err error) bool {
			return q.d.IsServerError(err) || errors.Is(err, errStoreClosed) ||
				errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
		}
	}
	for _, r := range resultReads(id, got, pass) {
		if err := q.w.Later(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// readBackBudget bounds the steps' stored JSON a read back decodes. Its
// handlers run on the group commit's one writer, which every other write
// waits for meanwhile; a larger answer (steps of a megabyte each) is left
// to the caller to read, as on a reader of its own.
const readBackBudget = 256 << 10

// resultReads are the reads of an execution and its steps into got, in
// that order: got is set by the second, and left empty when the execution
// is not found. With pass set they are a read back: Checked, they return
// only the errors pass reports, and any other leaves got empty, as do
// steps of more stored JSON than readBackBudget.
func resultReads(id uuid.UUID, got *store.ExecutionResults, pass func(error) bool) []Pipelined {
	budget := 0
	if pass != nil {
		budget = readBackBudget
	}
	var e *flow.Execution
	failed := false
	outcome := func(err error) error {
		if err == nil || pass == nil || pass(err) {
			return err
		}
		failed = true
		return nil
	}
	return []Pipelined{
		{SQL: executions.selectSQL() + " WHERE id = $1", Args: []any{id.String()}, Checked: pass != nil,
			Row: func(r scanner) (err error) {
				if e, err = executions.scan(r); errors.Is(err, sql.ErrNoRows) {
					return nil // the steps' read still runs, and the transaction ends as usual
				}
				return outcome(err)
			}},
		{SQL: `SELECT ` + stepColumns + ` FROM execution_steps WHERE execution_id = $1 ORDER BY step_number`,
			Args: []any{id.String()}, Checked: pass != nil,
			Rows: func(r rows) error {
				steps, err := scanSteps(r, budget)
				if err = outcome(err); err == nil && !failed && e != nil {
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
