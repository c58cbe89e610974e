package engine

import (
	"context"
	"sync"

	"github.com/google/uuid"

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
