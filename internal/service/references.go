package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/secret"
	"flowker/internal/store"
)

// maxNamedWorkflows bounds how many workflows an in-use refusal names.
const maxNamedWorkflows = 10

// refuseInUse refuses deleting a configuration (what, id) that an active
// workflow's executor node names in data[key]: every run of that workflow
// would fail. An active workflow cannot be edited, so its definition is the
// revision it runs. Drafts and inactive workflows may keep the reference:
// they are checked again when activated.
func refuseInUse(ctx context.Context, tx store.Tx, key, what string, id uuid.UUID) error {
	users, err := workflowsWhere(ctx, tx, flow.StatusActive, func(w *flow.Workflow) bool { return uses(w, key, id, false) })
	if err != nil || users == "" {
		return err
	}
	return flow.Errorf(flow.KindConflict, flow.CodeConfigInUse, "%s %s is used by %s; deactivate them first", what, id, users)
}

// refuseSecretsMoved refuses moving a configuration's URL while a
// workflow's node that calls through it holds secrets of its own (a
// partner's signing header): they would go to the new host, and whoever
// may write configurations could have a workflow's secrets sent to a host
// of their choosing (found by a defect hunt). Every workflow counts,
// drafts too: their nodes were written for the host they knew.
func refuseSecretsMoved(ctx context.Context, tx store.Tx, key, what string, id uuid.UUID) error {
	users, err := workflowsWhere(ctx, tx, "", func(w *flow.Workflow) bool { return uses(w, key, id, true) })
	if err != nil || users == "" {
		return err
	}
	return flow.Errorf(flow.KindConflict, flow.CodeConfigInUse,
		"%s %s is called by %s with secrets of their own in its nodes, which would go to the new URL: "+
			"remove those nodes' secrets first, or use a new configuration", what, id, users)
}

// workflowsWhere names the workflows (of a status; "": any) that match,
// up to maxNamedWorkflows and how many more ("" when none). They are read
// a page at a time in the caller's transaction.
func workflowsWhere(ctx context.Context, tx store.Tx, status flow.WorkflowStatus, match func(*flow.Workflow) bool) (string, error) {
	var users []string
	total := 0
	page := flow.PageRequest{Limit: flow.MaxPageSize, SortBy: "name"}
	for {
		p, err := tx.ListWorkflows(ctx, flow.WorkflowFilter{Status: status, Page: page})
		if err != nil {
			return "", err
		}
		for i := range p.Items {
			if match(&p.Items[i]) {
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
			return "", err
		}
	}
	if total == 0 {
		return "", nil
	}
	more := ""
	if total > len(users) {
		more = fmt.Sprintf(" and %d more", total-len(users))
	}
	return fmt.Sprintf("%d workflow(s): %s%s", total, strings.Join(users, ", "), more), nil
}

// uses reports whether an executor node of w names id in data[key] (and,
// withSecrets, holds a secret of its own: a sealed value).
func uses(w *flow.Workflow, key string, id uuid.UUID, withSecrets bool) bool {
	for _, n := range w.Nodes {
		if n.Type != flow.NodeExecutor {
			continue
		}
		if raw, ok := n.Data[key].(string); ok {
			if ref, err := uuid.Parse(raw); err == nil && ref == id && (!withSecrets || secret.HoldsSealed(n.Data)) {
				return true
			}
		}
	}
	return false
}
