package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"flowker/internal/audit"
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
// own (calls: retryCalls') was updated since it started. Such a URL does
// not move while the execution is under way (refuseSecretsMoved), but a
// failed or cancelled one is not under way, and its retry runs the
// revision it started with: the secrets would go wherever the
// configuration points now (found by a review). Refusing the move instead
// would let failed executions, which are kept, block it for good. A
// configuration keeps no history of its URL, so any update counts, as a
// call's own retries stop at one (engine).
func refuseRetryMoved(ctx context.Context, tx store.Tx, ex *flow.Execution, calls []secretCall) error {
	if len(calls) == 0 {
		return nil
	}
	// The lock every configuration write takes first: an update committed
	// before it is seen here, and one after it sees this execution under
	// way (refuseSecretsMoved). Without it, on PostgreSQL, each read before
	// the other committed and both passed (found by a review).
	if err := tx.LockCatalog(ctx); err != nil {
		return err
	}
	started, err := startedAt(ctx, tx, ex.ID)
	if err != nil {
		return err
	}
	for _, c := range calls {
		updated, err := tx.ListAudit(ctx, audit.Filter{EventType: c.ref.updated, ResourceType: c.ref.resource,
			ResourceID: c.id.String(), AfterSeq: started, Ascending: true, Limit: 1})
		if err != nil {
			return err
		}
		if len(updated) > 0 {
			return flow.Errorf(flow.KindUnprocessable, flow.CodeNotRetryable,
				"execution %s cannot be retried: its node %q calls %s %s with secrets of its own, and that "+
					"configuration was updated after the execution started (its URL may have moved; the retry "+
					"would send those secrets there): start a new execution", ex.ID, c.node, c.ref.what, c.id)
		}
	}
	return nil
}

// retryCalls are the secret calls of execution id's revision
// (secretCalls), read before the retry's transaction: whether there are
// any decides whether it takes the catalog lock (refuseRetryMoved), and so
// a turn among the transactions that wait for it (boundedTx). An
// execution's revision never changes, nor does a revision. An execution
// or revision not found has none: the retry's transaction answers for the
// one, and the run fails on its own for the other.
func (s *Service) retryCalls(ctx context.Context, id uuid.UUID) ([]secretCall, error) {
	ex, err := s.store.GetExecution(ctx, id)
	if err == nil {
		var v *flow.WorkflowVersion
		if v, err = s.store.GetWorkflowVersion(ctx, ex.WorkflowID, ex.WorkflowRevision); err == nil {
			return secretCalls(v.Definition), nil
		}
	}
	if flow.KindOf(err) == flow.KindNotFound {
		return nil, nil
	}
	return nil, err
}

// secretCall is a configuration that an executor node holding secrets of
// its own calls.
type secretCall struct {
	node string
	ref  configRef
	id   uuid.UUID
}

// secretCalls lists def's secret calls.
func secretCalls(def flow.Definition) []secretCall {
	var calls []secretCall
	for _, n := range def.Nodes {
		if n.Type != flow.NodeExecutor || !secret.HoldsSealed(n.Data) {
			continue
		}
		for _, ref := range configRefs {
			if id, ok := nodeRef(n, ref.key); ok {
				calls = append(calls, secretCall{n.ID, ref, id})
			}
		}
	}
	return calls
}

// configRef is a configuration a node may name in data[key], and the
// event recording an update of it: the only change that moves its URL.
type configRef struct{ key, resource, updated, what string }

// configRefs are the configurations a node may name.
var configRefs = []configRef{
	{"providerConfigId", resProviderConfig, audit.ProviderConfigUpdated, "provider configuration"},
	{"executorConfigId", resExecutorConfig, audit.ExecutorConfigUpdated, "executor configuration"},
}

// startedAt is the sequence of execution id's start in the audit chain,
// the one order every process shares: "updated since it started" compares
// places in it, not timestamps from the clocks of different replicas
// (found by a defect hunt: a replica whose clock was behind moved a URL
// "before" the start). The chain is never archived; without a start event
// it is 0, and every update counts.
func startedAt(ctx context.Context, tx store.Tx, id uuid.UUID) (int64, error) {
	started, err := tx.ListAudit(ctx, audit.Filter{EventType: audit.ExecutionStarted, ResourceType: resExecution,
		ResourceID: id.String(), Ascending: true, Limit: 1})
	if err != nil || len(started) == 0 {
		return 0, err
	}
	return started[0].Seq, nil
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
