package service

import (
	"context"
	"fmt"
	"strings"
	"time"

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
//
// Executions under way count too: each runs the revision it started with,
// whatever its workflow is now (edited, deleted), so a waiting execution
// would send that revision's secrets to the new URL when it resumes
// (found by a review).
func refuseSecretsMoved(ctx context.Context, tx store.Tx, key, what string, id uuid.UUID) error {
	users, err := workflowsWhere(ctx, tx, "", func(w *flow.Workflow) bool { return uses(w, key, id, true) })
	if err == nil && users == "" {
		users, err = revisionsUnderWay(ctx, tx, key, id)
	}
	if err != nil || users == "" {
		return err
	}
	return flow.Errorf(flow.KindConflict, flow.CodeConfigInUse,
		"%s %s is called by %s with secrets of their own in its nodes, which would go to the new URL: "+
			"remove those nodes' secrets (and let executions under way end) first, or use a new configuration",
		what, id, users)
}

// revisionsUnderWay names the workflow revisions that executions not yet
// ended run and whose nodes call id (data[key]) holding secrets ("" when
// none). Read a page at a time in the caller's transaction; each revision
// once.
func revisionsUnderWay(ctx context.Context, tx store.Tx, key string, id uuid.UUID) (string, error) {
	type revision struct {
		workflow uuid.UUID
		number   int
	}
	seen := map[revision]bool{}
	var users []string
	for _, status := range []flow.ExecutionStatus{flow.ExecPending, flow.ExecRunning, flow.ExecWaiting} {
		err := flow.EachPage(flow.PageRequest{Limit: flow.MaxPageSize, SortBy: "startedAt"},
			func(page flow.PageRequest) (flow.Page[flow.Execution], error) {
				return tx.ListExecutions(ctx, flow.ExecutionFilter{Status: status, Page: page})
			},
			func(ex *flow.Execution) error {
				r := revision{ex.WorkflowID, ex.WorkflowRevision}
				if seen[r] {
					return nil
				}
				seen[r] = true
				v, err := tx.GetWorkflowVersion(ctx, r.workflow, r.number)
				if flow.KindOf(err) == flow.KindNotFound {
					return nil
				} else if err != nil {
					return err
				}
				if uses(&flow.Workflow{Definition: v.Definition}, key, id, true) && len(users) < maxNamedWorkflows {
					users = append(users, fmt.Sprintf("revision %d of workflow %s (executions under way)", r.number, r.workflow))
				}
				return nil
			})
		if err != nil {
			return "", err
		}
	}
	return strings.Join(users, ", "), nil
}

// refuseRetryMoved refuses retrying ex (422 FLK-0512) when a
// configuration that its revision calls from a node holding secrets of its
// own changed since it started. Such a URL does not move while the
// execution is under way (refuseSecretsMoved), but a failed or cancelled
// one is not under way, and its retry runs the revision it started with:
// the secrets would go wherever the configuration points now (found by a
// review). Refusing the move instead would let failed executions, which
// are kept, block it for good. A configuration keeps no history of its
// URL, so any change counts, as a call's own retries stop at one (engine).
func refuseRetryMoved(ctx context.Context, tx store.Tx, ex *flow.Execution) error {
	v, err := tx.GetWorkflowVersion(ctx, ex.WorkflowID, ex.WorkflowRevision)
	if flow.KindOf(err) == flow.KindNotFound {
		return nil // nothing to call: the run fails on its own
	} else if err != nil {
		return err
	}
	locked := false
	for _, n := range v.Definition.Nodes {
		if n.Type != flow.NodeExecutor || !secret.HoldsSealed(n.Data) {
			continue
		}
		for _, key := range []string{"providerConfigId", "executorConfigId"} {
			id, ok := nodeRef(n, key)
			if !ok {
				continue
			}
			// The lock every configuration write takes first: a move
			// committed before it is seen here, and one after it sees this
			// execution under way (refuseSecretsMoved). Without it, on
			// PostgreSQL, each read before the other committed and both
			// passed. Taken only here: such retries are rare, and it holds
			// the rest of the batch while a configuration write runs.
			if !locked {
				if err := tx.LockCatalog(ctx); err != nil {
					return err
				}
				locked = true
			}
			changed, what, err := configChangedAt(ctx, tx, key, id)
			if flow.KindOf(err) == flow.KindNotFound {
				continue // the call fails on its own
			} else if err != nil {
				return err
			}
			if changed.After(ex.StartedAt) {
				return flow.Errorf(flow.KindUnprocessable, flow.CodeNotRetryable,
					"execution %s cannot be retried: its node %q calls %s %s with secrets of its own, and that "+
						"configuration changed after the execution started (its URL may have moved; the retry would "+
						"send those secrets there): start a new execution", ex.ID, n.ID, what, id)
			}
		}
	}
	return nil
}

// configChangedAt is when the configuration a node names in data[key]
// last changed, and what it is.
func configChangedAt(ctx context.Context, tx store.Tx, key string, id uuid.UUID) (time.Time, string, error) {
	if key == "providerConfigId" {
		pc, err := tx.GetProviderConfig(ctx, id)
		if err != nil {
			return time.Time{}, "", err
		}
		return pc.UpdatedAt, "provider configuration", nil
	}
	ec, err := tx.GetExecutorConfig(ctx, id)
	if err != nil {
		return time.Time{}, "", err
	}
	return ec.UpdatedAt, "executor configuration", nil
}

// nodeRef is the configuration n names in data[key], if any.
func nodeRef(n flow.Node, key string) (uuid.UUID, bool) {
	raw, _ := n.Data[key].(string)
	id, err := uuid.Parse(raw)
	return id, err == nil
}

// workflowsWhere names the workflows (of a status; "": any) that match,
// up to maxNamedWorkflows and how many more ("" when none). They are read
// a page at a time in the caller's transaction.
func workflowsWhere(ctx context.Context, tx store.Tx, status flow.WorkflowStatus, match func(*flow.Workflow) bool) (string, error) {
	var users []string
	total := 0
	err := flow.EachPage(flow.PageRequest{Limit: flow.MaxPageSize, SortBy: "name"},
		func(page flow.PageRequest) (flow.Page[flow.Workflow], error) {
			return tx.ListWorkflows(ctx, flow.WorkflowFilter{Status: status, Page: page})
		},
		func(w *flow.Workflow) error {
			if match(w) {
				total++
				if len(users) < maxNamedWorkflows {
					users = append(users, fmt.Sprintf("%q (%s)", w.Name, w.ID))
				}
			}
			return nil
		})
	if err != nil || total == 0 {
		return "", err
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
		if ref, ok := nodeRef(n, key); ok && n.Type == flow.NodeExecutor && ref == id &&
			(!withSecrets || secret.HoldsSealed(n.Data)) {
			return true
		}
	}
	return false
}
