package engine

import (
	"context"
	"sync"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"flowker/internal/flow"
	"flowker/internal/plan"
)

// graphCache keeps compiled revisions: a revision never changes, so a plan
// compiled once serves every execution of it.
type graphCache struct {
	mu sync.Mutex
	m  map[planKey]*plan.Plan
}

type planKey struct {
	workflow uuid.UUID
	revision int
}

// maxPlans bounds the cache; past it the cache starts over (cheap: plans
// compile in microseconds, and active revisions come back at once).
const maxPlans = 1024

func (e *Engine) plan(ctx context.Context, workflowID uuid.UUID, revision int) (*plan.Plan, error) {
	key := planKey{workflowID, revision}
	e.graphs.mu.Lock()
	p, ok := e.graphs.m[key]
	e.graphs.mu.Unlock()
	if ok {
		return p, nil
	}
	v, err := e.store.GetWorkflowVersion(ctx, workflowID, revision)
	if err != nil {
		return nil, err
	}
	// Node data is stored with its secrets sealed; the plan runs on plaintext.
	if v.Definition.Nodes, err = e.box.OpenNodes(v.Definition.Nodes); err != nil {
		return nil, err
	}
	if p, err = plan.Compile(v.Definition); err != nil {
		return nil, err
	}
	e.graphs.mu.Lock()
	defer e.graphs.mu.Unlock()
	if e.graphs.m == nil || len(e.graphs.m) >= maxPlans {
		e.graphs.m = map[planKey]*plan.Plan{}
	}
	e.graphs.m[key] = p
	return p, nil
}

// reportUnrunnable logs, at start, each active workflow whose revision no
// longer compiles: a limit tightened by an upgrade (macro nesting, writes
// after a wildcard) applies to stored revisions too, and each execution of
// such a workflow then fails "cannot run" — said once here, at start,
// beside the work rather than before it. Compiled, the others' plans are
// cached. A store error only ends the report.
func (e *Engine) reportUnrunnable(ctx context.Context) {
	err := flow.EachPage(flow.PageRequest{Limit: flow.MaxPageSize, SortBy: "name"},
		func(page flow.PageRequest) (flow.Page[flow.Workflow], error) {
			return e.store.ListWorkflows(ctx, flow.WorkflowFilter{Status: flow.StatusActive, Page: page})
		},
		func(w *flow.Workflow) error {
			if _, err := e.plan(ctx, w.ID, w.Revision); err != nil {
				e.log.Error("active workflow cannot run: its revision no longer compiles, and each of its executions "+
					"fails until it is changed", zap.String("operation", "engine.start"), zap.String("workflow.id", w.ID.String()),
					zap.String("workflow.name", w.Name), zap.Int("workflow.revision", w.Revision), zap.String("error.message", err.Error()))
			}
			return nil
		})
	if err != nil && ctx.Err() == nil {
		e.log.Warn("cannot list active workflows to check they compile", zap.String("error.message", err.Error()))
	}
}
