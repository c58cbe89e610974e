package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// maxNamedWorkflows bounds how many workflows an in-use refusal names.
const maxNamedWorkflows = 10

// refuseInUse refuses deleting a configuration (what, id) that an active
// workflow's executor node names in data[key]: every run of that workflow
// would fail. An active workflow cannot be edited, so its definition is the
// revision it runs. Drafts and inactive workflows may keep the reference:
// they are checked again when activated. Active workflows are few; they are
// read a page at a time in the delete's transaction.
func refuseInUse(ctx context.Context, tx store.Tx, key, what string, id uuid.UUID) error {
	var users []string
	total := 0
	page := flow.PageRequest{Limit: flow.MaxPageSize, SortBy: "name"}
	for {
		p, err := tx.ListWorkflows(ctx, flow.WorkflowFilter{Status: flow.StatusActive, Page: page})
		if err != nil {
			return err
		}
		for i := range p.Items {
			if uses(&p.Items[i], key, id) {
				total++
				if len(users) < maxNamedWorkflows {
					users = append(users, fmt.Sprintf("%q (%s)", p.Items[i].Name, p.Items[i].ID))
				}
			}
		}
		if !p.HasMore {
			break
		}
		if page.After, err = flow.DecodeCursor(p.NextCursor); err != nil {
			return err
		}
	}
	if total == 0 {
		return nil
	}
	more := ""
	if total > len(users) {
		more = fmt.Sprintf(" and %d more", total-len(users))
	}
	return flow.Errorf(flow.KindConflict, flow.CodeConfigInUse,
		"%s %s is used by %d active workflow(s): %s%s; deactivate them first", what, id, total,
		strings.Join(users, ", "), more)
}

// uses reports whether an executor node of w names id in data[key].
func uses(w *flow.Workflow, key string, id uuid.UUID) bool {
	for _, n := range w.Nodes {
		if n.Type != flow.NodeExecutor {
			continue
		}
		if raw, ok := n.Data[key].(string); ok {
			if ref, err := uuid.Parse(raw); err == nil && ref == id {
				return true
			}
		}
	}
	return false
}
