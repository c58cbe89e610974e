package sqlstore

import (
	"context"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

var workflows = &table[flow.Workflow]{
	name: "workflows",
	columns: []string{"id", "name", "description", "status", "revision", "nodes", "edges", "metadata",
		"created_at", "updated_at"},
	args: func(w *flow.Workflow) ([]any, error) {
		nodes, err1 := marshalJSON("workflow nodes", w.Nodes, "[]")
		edges, err2 := marshalJSON("workflow edges", w.Edges, "[]")
		meta, err3 := marshalJSON("workflow metadata", w.Metadata, "{}")
		err := firstErr(checkTexts("workflow name", w.Name, "workflow description", w.Description), err1, err2, err3)
		return []any{w.ID.String(), w.Name, w.Description, string(w.Status), w.Revision,
			nodes, edges, meta, timeArg(w.CreatedAt), timeArg(w.UpdatedAt)}, err
	},
	scan: func(s scanner) (*flow.Workflow, error) {
		var w flow.Workflow
		var status string
		var nodes, edges, meta []byte
		if err := s.Scan(dbUUID{&w.ID}, &w.Name, &w.Description, &status, &w.Revision, &nodes, &edges, &meta,
			dbTime{&w.CreatedAt}, dbTime{&w.UpdatedAt}); err != nil {
			return nil, err
		}
		w.Status = flow.WorkflowStatus(status)
		return &w, unmarshalJSON("workflow "+w.ID.String(), nodes, &w.Nodes, edges, &w.Edges, meta, &w.Metadata)
	},
	id:    func(w *flow.Workflow) uuid.UUID { return w.ID },
	sorts: nameTimeSorts,
	sortValue: func(w *flow.Workflow, by string) string {
		return nameTimeValue(w.Name, w.CreatedAt, w.UpdatedAt, by)
	},
	notFound: flow.ErrWorkflowNotFound,
	conflict: flow.ErrWorkflowNameUsed,
	catalog:  true,
	sealed:   true,
}

func (q *queries) CreateWorkflow(ctx context.Context, w *flow.Workflow) error {
	return workflows.insert(ctx, q, w)
}

func (q *queries) GetWorkflow(ctx context.Context, id uuid.UUID) (*flow.Workflow, error) {
	return workflows.get(ctx, q.r, id)
}

func (q *queries) WorkflowRevision(ctx context.Context, id uuid.UUID) (int, error) {
	return workflows.revision(ctx, q.r, id)
}

func (q *queries) UpdateWorkflow(ctx context.Context, w *flow.Workflow, prevRevision int) error {
	return workflows.update(ctx, q, w, prevRevision)
}

func (q *queries) DeleteWorkflow(ctx context.Context, id uuid.UUID, prevRevision int) error {
	return workflows.delete(ctx, q, id, prevRevision)
}

func (q *queries) ListWorkflows(ctx context.Context, f flow.WorkflowFilter) (flow.Page[flow.Workflow], error) {
	return workflows.list(ctx, q, []filter{eq("status", string(f.Status)), eq("name", f.Name)}, f.Page)
}
