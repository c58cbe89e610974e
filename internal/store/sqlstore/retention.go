package sqlstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

// Retention (docs/history.md): finished executions leave the hot tables
// once archived.

// unfinished lists the statuses whose executions never leave. Written as
// "status NOT IN unfinished", the filter also keeps both planners on the
// completion-time index (a positive list of the finished statuses led
// SQLite to read every finished execution and sort them).
const unfinished = `('pending', 'running', 'waiting')`

// TryLock takes the named lock until the transaction ends, if no other
// transaction holds it. PostgreSQL: a transaction advisory lock, keyed by
// the name and the schema (one deployment per schema). SQLite: always
// true, as a write transaction already excludes every other writer.
func (q *queries) TryLock(ctx context.Context, name string) (bool, error) {
	if q.d.Name != "postgresql" {
		return true, nil
	}
	var ok bool
	err := q.w.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock(
		hashtextextended('flowker.' || $1 || ':' || current_schema(), 0))`, name).Scan(&ok)
	return ok, err
}

// FinishedExecutionsBefore returns up to limit finished executions that
// completed before t, oldest completion first, and holds their rows until
// the transaction ends (PostgreSQL skips rows another transaction holds:
// a retry or a late signal is never waited for, and wins).
func (q *queries) FinishedExecutionsBefore(ctx context.Context, t time.Time, limit int) ([]flow.Execution, error) {
	rows, err := q.w.QueryContext(ctx, executions.selectSQL()+` WHERE status NOT IN `+unfinished+`
		AND completed_at IS NOT NULL AND completed_at < $1 ORDER BY completed_at, id LIMIT $2`+q.d.SkipLocked,
		timeArg(t), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []flow.Execution
	for rows.Next() {
		e, err := executions.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// DeleteExecutions deletes the finished executions among ids with their
// steps, waits, review decisions and signals; an unfinished one keeps
// everything. It returns how many executions it deleted.
func (q *queries) DeleteExecutions(ctx context.Context, ids []uuid.UUID) (int, error) {
	defer q.replacingSealed()() // their input is sealed
	total := 0
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), leaseChunk)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id.String()
		}
		doomed := `SELECT id FROM executions WHERE id IN ` + placeholders(1, len(chunk)) + ` AND status NOT IN ` + unfinished
		for _, stmt := range []string{
			`DELETE FROM review_decisions WHERE wait_id IN (SELECT id FROM execution_waits WHERE execution_id IN (` + doomed + `))`,
			`DELETE FROM execution_waits WHERE execution_id IN (` + doomed + `)`,
			`DELETE FROM execution_signals WHERE execution_id IN (` + doomed + `)`,
			`DELETE FROM execution_steps WHERE execution_id IN (` + doomed + `)`,
		} {
			if _, err := q.w.ExecContext(ctx, stmt, args...); err != nil {
				return total, err
			}
		}
		n, err := q.execCount(ctx, strings.Replace(doomed, "SELECT id FROM", "DELETE FROM", 1), args...)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// ExecutionRecords calls fn with what ListSteps, ListWaits and ListSignals
// return for each of ids, in order, read in three statements per chunk of
// ids rather than three per execution: an archive batch holds SQLite's
// writer while it reads.
func (q *queries) ExecutionRecords(ctx context.Context, ids []uuid.UUID,
	fn func(id uuid.UUID, steps []flow.Step, waits []flow.Wait, signals []flow.Signal) error) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), leaseChunk)]
		ids = ids[len(chunk):]
		values := make([]any, len(chunk))
		for i, id := range chunk {
			values[i] = id.String()
		}
		in, args := inList(1, values)
		steps, err := q.stepsOf(ctx, in, args)
		if err != nil {
			return err
		}
		ws, err := q.queryWaits(ctx, q.r, waits.selectSQL()+` WHERE execution_id IN `+in+` ORDER BY created_at, id`, args...)
		if err != nil {
			return err
		}
		waitsOf := map[uuid.UUID][]flow.Wait{}
		for _, w := range ws {
			waitsOf[w.ExecutionID] = append(waitsOf[w.ExecutionID], w)
		}
		signals, err := q.signalsOf(ctx, in, args)
		if err != nil {
			return err
		}
		for _, id := range chunk {
			if err := fn(id, steps[id], waitsOf[id], signals[id]); err != nil {
				return err
			}
		}
	}
	return nil
}

// stepsOf reads the steps of the executions in the id list in, by execution
// (ListSteps is it for one).
func (q *queries) stepsOf(ctx context.Context, in string, args []any) (map[uuid.UUID][]flow.Step, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+stepColumns+` FROM execution_steps WHERE execution_id IN `+in+`
		ORDER BY execution_id, step_number`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanSteps(rows, 0)
}

// errOverBudget: the steps' stored JSON exceeds what the reader wanted to
// decode (scanSteps' budget).
var errOverBudget = errors.New("the steps' stored JSON exceeds the read's budget")

// scanSteps reads stepColumns rows, by execution. With a budget (> 0) it
// decodes no more than that many bytes of stored JSON: errOverBudget.
func scanSteps(rows rows, budget int) (map[uuid.UUID][]flow.Step, error) {
	out := map[uuid.UUID][]flow.Step{}
	stored := 0
	for rows.Next() {
		var st flow.Step
		var status string
		var input, output, details []byte
		if err := rows.Scan(dbUUID{&st.ExecutionID}, &st.Number, &st.NodeID, &st.Name, &status, &input, &output,
			&st.ErrorMessage, &st.Attempts, &details, dbTime{&st.StartedAt}, dbTime{&st.CompletedAt}); err != nil {
			return nil, err
		}
		st.Status = flow.StepStatus(status)
		if stored += len(input) + len(output) + len(details); budget > 0 && stored > budget {
			return nil, errOverBudget
		}
		for _, b := range []*[]byte{&input, &output, &details} {
			if len(*b) == 0 {
				*b = []byte("null")
			}
		}
		if err := unmarshalJSON("step", input, &st.Input, output, &st.Output, details, &st.CallDetails); err != nil {
			return nil, err
		}
		out[st.ExecutionID] = append(out[st.ExecutionID], st)
	}
	return out, rows.Err()
}

// signalsOf reads the signals of the executions in the id list in, by execution
// (ListSignals is it for one).
func (q *queries) signalsOf(ctx context.Context, in string, args []any) (map[uuid.UUID][]flow.Signal, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT execution_id, name, payload, source, actor_type, actor_id, received_at
		FROM execution_signals WHERE execution_id IN `+in+` ORDER BY received_at, name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uuid.UUID][]flow.Signal{}
	for rows.Next() {
		var s flow.Signal
		var payload []byte
		if err := rows.Scan(dbUUID{&s.ExecutionID}, &s.Name, &payload, &s.Source, &s.ActorType, &s.ActorID,
			dbTime{&s.ReceivedAt}); err != nil {
			return nil, err
		}
		if len(payload) > 0 {
			if err := unmarshalJSON("signal "+s.Name, payload, &s.Payload); err != nil {
				return nil, err
			}
		}
		out[s.ExecutionID] = append(out[s.ExecutionID], s)
	}
	return out, rows.Err()
}
