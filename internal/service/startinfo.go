package service

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

// startInfo is what starting an execution needs of a workflow: the
// revision it runs, whether it may run, and its trigger nodes in order.
// Immutable once built: goroutines share it through startInfos.
type startInfo struct {
	revision int
	status   flow.WorkflowStatus
	triggers []string
}

// startInfos caches startInfo by workflow, for as long as the revision
// stays the same. Every start reads the revision (one column of one row),
// so an edit, a deactivation or a delete applies to the next start in
// every process; the definition is read and decoded only when it changed.
type startInfos struct {
	mu sync.Mutex
	m  map[uuid.UUID]*startInfo
}

// maxStartInfos bounds the cache; past it, it starts over.
const maxStartInfos = 10000

func (s *Service) startInfo(ctx context.Context, id uuid.UUID) (*startInfo, error) {
	rev, err := s.store.WorkflowRevision(ctx, id)
	if err != nil {
		return nil, err
	}
	s.starts.mu.Lock()
	si := s.starts.m[id]
	s.starts.mu.Unlock()
	if si != nil && si.revision == rev {
		return si, nil
	}
	w, err := s.store.GetWorkflow(ctx, id)
	if err != nil {
		return nil, err
	}
	si = &startInfo{revision: w.Revision, status: w.Status}
	for _, n := range w.Nodes {
		if n.Type == flow.NodeTrigger {
			si.triggers = append(si.triggers, n.ID)
		}
	}
	s.starts.mu.Lock()
	if s.starts.m == nil || len(s.starts.m) >= maxStartInfos {
		s.starts.m = map[uuid.UUID]*startInfo{}
	}
	s.starts.m[id] = si
	s.starts.mu.Unlock()
	return si, nil
}

// pickTrigger returns the trigger node the execution starts at: want, or
// the first trigger when want is "".
func (si *startInfo) pickTrigger(want string) (string, error) {
	for _, id := range si.triggers {
		if want == "" || id == want {
			return id, nil
		}
	}
	if want != "" {
		return "", flow.Invalidf("FLK-0514", "workflow has no trigger node %q", want)
	}
	return "", flow.Errorf(flow.KindUnprocessable, "FLK-0116", "workflow has no trigger node")
}
