package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// Waits, review decisions and signals (docs/waiting.md).

var waits = &table[flow.Wait]{
	name: "execution_waits",
	columns: []string{"id", "execution_id", "workflow_id", "node_id", "kind", "status", "due_at", "signal",
		"review_group", "review", "output", "handle", "created_at", "resolved_at"},
	args: func(w *flow.Wait) ([]any, error) {
		var review, out any
		var err1, err2 error
		if w.Review != nil {
			review, err1 = marshalJSON("review "+w.NodeID, w.Review, "null")
		}
		if w.Status != flow.WaitOpen {
			out, err2 = marshalJSON("wait output "+w.NodeID, w.Output, "null")
		}
		group := ""
		if w.Review != nil {
			group = w.Review.Group
		}
		err := firstErr(checkTexts("wait node id", w.NodeID, "signal", w.Signal, "handle", w.Handle), err1, err2)
		return []any{w.ID.String(), w.ExecutionID.String(), w.WorkflowID.String(), w.NodeID, string(w.Kind),
			string(w.Status), nullTimeArg(w.DueAt), w.Signal, group, review, out, w.Handle,
			timeArg(w.CreatedAt), nullTimeArg(w.ResolvedAt)}, err
	},
	scan: func(s scanner) (*flow.Wait, error) {
		var w flow.Wait
		var kind, status, group string
		var review, out []byte
		if err := s.Scan(dbUUID{&w.ID}, dbUUID{&w.ExecutionID}, dbUUID{&w.WorkflowID}, &w.NodeID, &kind, &status,
			dbNullTime{&w.DueAt}, &w.Signal, &group, &review, &out, &w.Handle, dbTime{&w.CreatedAt},
			dbNullTime{&w.ResolvedAt}); err != nil {
			return nil, err
		}
		w.Kind, w.Status = flow.NodeType(kind), flow.WaitStatus(status)
		if len(review) > 0 {
			w.Review = &flow.ReviewTask{}
			if err := unmarshalJSON("review "+w.ID.String(), review, w.Review); err != nil {
				return nil, err
			}
		}
		if len(out) > 0 {
			if err := unmarshalJSON("wait output "+w.ID.String(), out, &w.Output); err != nil {
				return nil, err
			}
		}
		return &w, nil
	},
	id:        func(w *flow.Wait) uuid.UUID { return w.ID },
	sorts:     map[string]string{"createdAt": "created_at"},
	sortValue: func(w *flow.Wait, _ string) string { return timeArg(w.CreatedAt) },
	notFound:  flow.ErrReviewNotFound,
}

func (q *queries) SaveWaits(ctx context.Context, ws []flow.Wait) error {
	for i := range ws {
		args, err := waits.args(&ws[i])
		if err != nil {
			return err
		}
		marks := make([]string, len(args))
		for j := range marks {
			marks[j] = "$" + strconv.Itoa(j+1)
		}
		if _, err := q.w.ExecContext(ctx, "INSERT INTO execution_waits ("+strings.Join(waits.columns, ", ")+
			") VALUES ("+strings.Join(marks, ", ")+
			") ON CONFLICT (execution_id, node_id) WHERE status = 'open' DO NOTHING", args...); err != nil {
			return err
		}
	}
	return nil
}

func (q *queries) ListWaits(ctx context.Context, executionID uuid.UUID) ([]flow.Wait, error) {
	return q.queryWaits(ctx, q.r, waits.selectSQL()+` WHERE execution_id = $1 ORDER BY created_at, id`,
		executionID.String())
}

func (q *queries) GetWait(ctx context.Context, id uuid.UUID) (*flow.Wait, error) {
	ws, err := q.queryWaits(ctx, q.r, waits.selectSQL()+` WHERE id = $1`, id.String())
	if err != nil {
		return nil, err
	}
	if len(ws) == 0 {
		return nil, flow.ErrReviewNotFound
	}
	return &ws[0], nil
}

func (q *queries) ListReviews(ctx context.Context, f flow.ReviewFilter) (flow.Page[flow.Wait], error) {
	wf := ""
	if f.WorkflowID != uuid.Nil {
		wf = f.WorkflowID.String()
	}
	ex := ""
	if f.ExecutionID != uuid.Nil {
		ex = f.ExecutionID.String()
	}
	page, err := waits.list(ctx, q, []filter{eq("kind", string(flow.NodeReview)), eq("status", string(f.Status)),
		eq("workflow_id", wf), eq("execution_id", ex), eq("review_group", f.Group), timeBound("created_at", "<=", f.CreatedBefore)}, f.Page)
	if err != nil {
		return page, err
	}
	return page, q.loadDecisions(ctx, q.r, page.Items)
}

// queryWaits reads waits and the decisions of the reviews among them.
func (q *queries) queryWaits(ctx context.Context, db execer, query string, args ...any) ([]flow.Wait, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []flow.Wait
	for rows.Next() {
		w, err := waits.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *w)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, q.loadDecisions(ctx, db, out)
}

// loadDecisions fills the decisions of the reviews in ws, in one query.
func (q *queries) loadDecisions(ctx context.Context, db execer, ws []flow.Wait) error {
	index := map[uuid.UUID]int{}
	var ids []any
	for i := range ws {
		if ws[i].Kind == flow.NodeReview {
			index[ws[i].ID] = i
			ids = append(ids, ws[i].ID.String())
		}
	}
	if len(ids) == 0 {
		return nil
	}
	marks, args := inList(1, ids)
	rows, err := db.QueryContext(ctx, `SELECT wait_id, decision, comment, actor_type, actor_id, decided_at
		FROM review_decisions WHERE wait_id IN `+marks+` ORDER BY decided_at, actor_id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var d flow.Decision
		if err := rows.Scan(dbUUID{&id}, &d.Decision, &d.Comment, &d.ActorType, &d.ActorID, dbTime{&d.DecidedAt}); err != nil {
			return err
		}
		w := &ws[index[id]]
		w.Decisions = append(w.Decisions, d)
	}
	return rows.Err()
}

// The writes of one wait or one execution by its id. Each status fence
// compares status joined to an empty text, which no index holds, so the
// row is found by its primary key in every plan: see runningUpdate.
const (
	resolveWait = `UPDATE execution_waits SET status = $2, output = $3, handle = $4, resolved_at = $5
		WHERE id = $1 AND status || '' = 'open'`
	parkExecution = `UPDATE executions SET status = 'waiting', lease_owner = '', lease_expires_at = NULL,
		updated_at = $3 WHERE id = $1 AND lease_owner = $2 AND status || '' = 'running'`
	wakeExecution = `UPDATE executions SET status = $2, lease_owner = $3, lease_expires_at = $4,
		updated_at = $5 WHERE id = $1 AND status || '' = 'waiting'`
)

func (q *queries) ResolveWait(ctx context.Context, w *flow.Wait) (bool, error) {
	out, err := marshalJSON("wait output "+w.NodeID, w.Output, "null")
	if err == nil {
		err = checkText("handle", w.Handle)
	}
	if err != nil {
		return false, err
	}
	n, err := q.execCount(ctx, resolveWait, w.ID.String(), string(w.Status), out, w.Handle, nullTimeArg(w.ResolvedAt))
	return n == 1, err
}

func (q *queries) CancelWaits(ctx context.Context, executionID uuid.UUID, now time.Time) ([]flow.Wait, error) {
	return q.queryWaits(ctx, q.w, `UPDATE execution_waits SET status = 'cancelled', resolved_at = $2
		WHERE execution_id = $1 AND status = 'open' RETURNING `+strings.Join(waits.columns, ", "),
		executionID.String(), timeArg(now))
}

func (q *queries) AddDecision(ctx context.Context, waitID uuid.UUID, d flow.Decision) error {
	if err := checkTexts("decision", d.Decision, "comment", d.Comment, "actor", d.ActorID); err != nil {
		return err
	}
	_, err := q.w.ExecContext(ctx, `INSERT INTO review_decisions (wait_id, actor_type, actor_id, decision, comment, decided_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, waitID.String(), d.ActorType, d.ActorID, d.Decision, d.Comment, timeArg(d.DecidedAt))
	if err != nil && q.d.IsUniqueViolation(err) {
		return flow.ErrAlreadyDecided
	}
	return err
}

func (q *queries) AddSignal(ctx context.Context, s *flow.Signal) error {
	payload, err := marshalJSON("signal payload", s.Payload, "null")
	if err == nil {
		err = checkTexts("signal name", s.Name, "actor", s.ActorID)
	}
	if err != nil {
		return err
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO execution_signals (execution_id, name, payload, source, actor_type, actor_id, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, s.ExecutionID.String(), s.Name, payload, s.Source, s.ActorType, s.ActorID,
		timeArg(s.ReceivedAt))
	if err != nil && q.d.IsUniqueViolation(err) {
		return flow.ErrSignalUsed
	}
	return err
}

func (q *queries) ListSignals(ctx context.Context, executionID uuid.UUID) ([]flow.Signal, error) {
	signals, err := q.signalsOf(ctx, "($1)", []any{executionID.String()})
	return signals[executionID], err
}

func (q *queries) DueWaits(ctx context.Context, now time.Time, limit int) ([]flow.Wait, error) {
	return q.queryWaits(ctx, q.r, waits.selectSQL()+` WHERE status = 'open' AND due_at IS NOT NULL AND due_at <= $1
		ORDER BY due_at LIMIT $2`, timeArg(now), limit)
}

func (q *queries) LockExecution(ctx context.Context, id uuid.UUID, skipLocked bool) (*flow.Execution, error) {
	lock := q.d.ForUpdate
	if skipLocked {
		lock = q.d.SkipLocked
	}
	e, err := executions.scan(q.w.QueryRowContext(ctx, executions.selectSQL()+` WHERE id = $1`+lock, id.String()))
	if errors.Is(err, sql.ErrNoRows) {
		if skipLocked { // gone, or held by another transaction: either way not now
			return nil, nil //nolint:nilnil // documented: nothing to lock now
		}
		return nil, flow.ErrExecutionNotFound
	}
	return e, err
}

func (q *queries) ParkExecution(ctx context.Context, owner string, id uuid.UUID, now time.Time) error {
	res, err := q.w.ExecContext(ctx, parkExecution, id.String(), owner, timeArg(now))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return firstErr(err, store.ErrLeaseLost)
	}
	return nil
}

func (q *queries) WakeExecution(ctx context.Context, id uuid.UUID, owner string, now, until time.Time) (bool, error) {
	status, lease := "running", nullTimeArg(&until)
	if owner == "" { // no capacity here: any process's rescuer takes it
		status, lease = "pending", nil
	}
	n, err := q.execCount(ctx, wakeExecution, id.String(), status, owner, lease, timeArg(now))
	return n == 1, err
}

func (q *queries) CountWaiting(ctx context.Context) (int64, *time.Time, error) {
	var n int64
	if err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM executions WHERE status = 'waiting'`).Scan(&n); err != nil {
		return 0, nil, err
	}
	var oldest *time.Time
	err := q.r.QueryRowContext(ctx, `SELECT min(created_at) FROM execution_waits
		WHERE kind = 'review' AND status = 'open'`).Scan(dbNullTime{&oldest})
	return n, oldest, err
}
