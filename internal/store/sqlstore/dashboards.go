package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

// Dashboard counts.

func (q *queries) CountWorkflowsByStatus(ctx context.Context) (map[flow.WorkflowStatus]int64, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT status, count(*) FROM workflows GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[flow.WorkflowStatus]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[flow.WorkflowStatus(s)] = n
	}
	return out, rows.Err()
}

func (q *queries) CountExecutionsByStatus(ctx context.Context, from, to *time.Time, status flow.ExecutionStatus) (map[flow.ExecutionStatus]int64, error) {
	var where []string
	var args []any
	if from != nil {
		args = append(args, timeArg(*from))
		where = append(where, "started_at >= $"+strconv.Itoa(len(args)))
	}
	if to != nil {
		args = append(args, timeArg(*to))
		where = append(where, "started_at <= $"+strconv.Itoa(len(args)))
	}
	if status != "" {
		args = append(args, string(status))
		where = append(where, "status = $"+strconv.Itoa(len(args)))
	}
	query := `SELECT status, count(*) FROM executions`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := q.r.QueryContext(ctx, query+" GROUP BY status", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[flow.ExecutionStatus]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[flow.ExecutionStatus(s)] = n
	}
	return out, rows.Err()
}

// CountExecutionsBySlot groups in SQL, on the started_at indexes
// (executions_started_at, or executions_workflow_started for one workflow),
// so a long range costs one row per slot and status, not one per execution.
func (q *queries) CountExecutionsBySlot(ctx context.Context, from, to time.Time, workflowID *uuid.UUID) ([]flow.SlotCount, error) {
	width := int64(flow.SlotWidth / time.Second)
	query := `SELECT ` + q.d.UnixSeconds("started_at") + ` / ` + strconv.FormatInt(width, 10) +
		` AS slot, status, count(*) FROM executions WHERE started_at >= $1 AND started_at < $2`
	args := []any{timeArg(from), timeArg(to)}
	if workflowID != nil {
		query += ` AND workflow_id = $3`
		args = append(args, workflowID.String())
	}
	rows, err := q.r.QueryContext(ctx, query+` GROUP BY slot, status ORDER BY slot, status`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []flow.SlotCount
	for rows.Next() {
		var slot, n int64
		var s string
		if err := rows.Scan(&slot, &s, &n); err != nil {
			return nil, err
		}
		out = append(out, flow.SlotCount{Start: time.Unix(slot*width, 0).UTC(), Status: flow.ExecutionStatus(s), Count: n})
	}
	return out, rows.Err()
}
