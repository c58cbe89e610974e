package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

const workflowColumns = `id, name, description, status, revision, nodes, edges, metadata, created_at, updated_at`

// workflowSortColumns maps API sort names to columns; only these reach SQL.
var workflowSortColumns = map[string]string{
	"createdAt": "created_at",
	"updatedAt": "updated_at",
	"name":      "name",
}

func (q *queries) CreateWorkflow(ctx context.Context, w *flow.Workflow) error {
	args, err := workflowArgs(w)
	if err != nil {
		return err
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO workflows (`+workflowColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, args...)
	return q.translate(err)
}

func (q *queries) UpdateWorkflow(ctx context.Context, w *flow.Workflow, prevRevision int) error {
	args, err := workflowArgs(w)
	if err != nil {
		return err
	}
	args[8] = prevRevision // created_at never changes; its slot carries the expected revision
	res, err := q.w.ExecContext(ctx, `UPDATE workflows SET name = $2, description = $3, status = $4,
		revision = $5, nodes = $6, edges = $7, metadata = $8, updated_at = $10
		WHERE id = $1 AND revision = $9`, args...)
	if err != nil {
		return q.translate(err)
	}
	return q.checkChanged(ctx, res, w.ID)
}

func (q *queries) DeleteWorkflow(ctx context.Context, id uuid.UUID, prevRevision int) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM workflows WHERE id = $1 AND revision = $2`, id.String(), prevRevision)
	if err != nil {
		return err
	}
	return q.checkChanged(ctx, res, id)
}

// checkChanged turns "no row matched" into not-found or a lost race.
func (q *queries) checkChanged(ctx context.Context, res sql.Result, id uuid.UUID) error {
	n, err := res.RowsAffected()
	if err != nil || n == 1 {
		return err
	}
	if _, err := q.getWorkflow(ctx, q.w, id); err != nil {
		return err
	}
	return flow.ErrStateChanged
}

func (q *queries) GetWorkflow(ctx context.Context, id uuid.UUID) (*flow.Workflow, error) {
	return q.getWorkflow(ctx, q.r, id)
}

func (q *queries) getWorkflow(ctx context.Context, db execer, id uuid.UUID) (*flow.Workflow, error) {
	row := db.QueryRowContext(ctx, `SELECT `+workflowColumns+` FROM workflows WHERE id = $1`, id.String())
	w, err := scanWorkflow(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flow.ErrWorkflowNotFound
	}
	return w, err
}

func (q *queries) ListWorkflows(ctx context.Context, f flow.WorkflowFilter) (flow.Page[flow.Workflow], error) {
	var page flow.Page[flow.Workflow]
	col, ok := workflowSortColumns[f.Page.SortBy]
	if !ok {
		return page, fmt.Errorf("unknown workflow sort %q", f.Page.SortBy)
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(string(f.Status)))
	}
	if f.Name != "" {
		where = append(where, "name = "+arg(f.Name))
	}
	dir, cmp := "ASC", ">"
	if f.Page.Desc {
		dir, cmp = "DESC", "<"
	}
	if c := f.Page.After; c != nil {
		sv, err := cursorValue(c, col)
		if err != nil {
			return page, err
		}
		v, id := arg(sv), arg(c.ID)
		where = append(where, fmt.Sprintf("(%s %s %s OR (%s = %s AND id %s %s))", col, cmp, v, col, v, cmp, id))
	}
	query := `SELECT ` + workflowColumns + ` FROM workflows`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(` ORDER BY %s %s, id %s LIMIT %s`, col, dir, dir, arg(f.Page.Limit+1))

	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	page.Items = make([]flow.Workflow, 0, f.Page.Limit)
	for rows.Next() {
		w, err := scanWorkflow(rows)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, *w)
	}
	if err := rows.Err(); err != nil {
		return page, err
	}
	if len(page.Items) > f.Page.Limit {
		page.Items = page.Items[:f.Page.Limit]
		page.HasMore = true
		last := page.Items[len(page.Items)-1]
		page.NextCursor = nextCursor(last, f.Page).Encode()
	}
	return page, nil
}

// cursorValue checks a client-supplied cursor before it reaches SQL and
// normalises a time to the stored layout (SQLite compares it as text).
func cursorValue(c *flow.Cursor, col string) (string, error) {
	if _, err := uuid.Parse(c.ID); err != nil {
		return "", flow.ErrInvalidCursor
	}
	if col == "name" {
		return c.SortValue, nil
	}
	t, err := time.Parse(time.RFC3339Nano, c.SortValue)
	if err != nil {
		return "", &flow.Error{Kind: flow.KindInvalid, Code: flow.CodeInvalidCursor, Message: "invalid cursor sort value"}
	}
	return timeArg(t), nil
}

func nextCursor(w flow.Workflow, p flow.PageRequest) flow.Cursor {
	c := flow.Cursor{ID: w.ID.String(), SortBy: p.SortBy, Order: "ASC", Next: true}
	if p.Desc {
		c.Order = "DESC"
	}
	switch p.SortBy {
	case "name":
		c.SortValue = w.Name
	case "updatedAt":
		c.SortValue = timeArg(w.UpdatedAt)
	default:
		c.SortValue = timeArg(w.CreatedAt)
	}
	return c
}

func workflowArgs(w *flow.Workflow) ([]any, error) {
	nodes, err := marshalJSON(w.Nodes, "[]")
	if err != nil {
		return nil, err
	}
	edges, err := marshalJSON(w.Edges, "[]")
	if err != nil {
		return nil, err
	}
	meta, err := marshalJSON(w.Metadata, "{}")
	if err != nil {
		return nil, err
	}
	return []any{w.ID.String(), w.Name, w.Description, string(w.Status), w.Revision,
		nodes, edges, meta, timeArg(w.CreatedAt), timeArg(w.UpdatedAt)}, nil
}

// marshalJSON encodes v, storing empty as the given literal so a read
// returns [] or {} rather than null.
func marshalJSON(v any, empty string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return empty, nil
	}
	return string(b), nil
}

type scanner interface{ Scan(dest ...any) error }

func scanWorkflow(s scanner) (*flow.Workflow, error) {
	var w flow.Workflow
	var id, status string
	var nodes, edges, meta []byte
	err := s.Scan(&id, &w.Name, &w.Description, &status, &w.Revision, &nodes, &edges, &meta,
		dbTime{&w.CreatedAt}, dbTime{&w.UpdatedAt})
	if err != nil {
		return nil, err
	}
	if w.ID, err = uuid.Parse(id); err != nil {
		return nil, err
	}
	w.Status = flow.WorkflowStatus(status)
	if err := errors.Join(json.Unmarshal(nodes, &w.Nodes), json.Unmarshal(edges, &w.Edges),
		json.Unmarshal(meta, &w.Metadata)); err != nil {
		return nil, fmt.Errorf("workflow %s: stored JSON: %w", id, err)
	}
	return &w, nil
}

// translate maps a unique violation to the domain's name conflict: the only
// unique key on workflows besides a random UUID primary key.
func (q *queries) translate(err error) error {
	if err != nil && q.d.IsUniqueViolation(err) {
		return flow.ErrWorkflowNameUsed
	}
	return err
}
