package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/provider"
)

// resolvedConfig is a provider configuration ready for calls, for as long
// as the configuration stays at its revision.
type resolvedConfig struct {
	pc     *flow.ProviderConfig // Config opened (plaintext)
	target provider.TestTarget  // auth and headers derived from it
}

type configCache struct {
	mu sync.Mutex
	m  map[uuid.UUID]resolvedConfig
}

// providerConfig returns an active provider configuration, opened, with the
// target derived from it. The row's revision is read for every call (one
// primary-key read of one column), so a disable or an edit applies to the
// next step in every process; the row itself is read, opened and turned
// into a target only when its revision changed.
func (e *Engine) providerConfig(ctx context.Context, id uuid.UUID) (resolvedConfig, error) {
	var rc resolvedConfig
	rev, err := e.store.ProviderConfigRevision(ctx, id)
	if err != nil {
		return rc, fmt.Errorf("provider configuration %s: %w", id, err)
	}
	e.configs.mu.Lock()
	cached, ok := e.configs.m[id]
	e.configs.mu.Unlock()
	if !ok || cached.pc.Revision != rev {
		if cached, err = e.resolveConfig(ctx, id); err != nil {
			return rc, err
		}
	}
	if cached.pc.Status != flow.ConfigActive {
		return rc, fmt.Errorf("provider configuration %s is %s; only an active one may run", id, cached.pc.Status)
	}
	return cached, nil
}

// resolveConfig reads, opens and caches a provider configuration.
func (e *Engine) resolveConfig(ctx context.Context, id uuid.UUID) (resolvedConfig, error) {
	var rc resolvedConfig
	pc, err := e.store.GetProviderConfig(ctx, id)
	if err != nil {
		return rc, fmt.Errorf("provider configuration %s: %w", id, err)
	}
	if pc.Status == flow.ConfigActive { // an inactive one is cached as is: it only refuses
		if pc.Config, err = e.box.Open(pc.Config, "config"); err != nil {
			return rc, err
		}
		if rc.target, err = provider.TargetFor(pc.ProviderID, pc.Config); err != nil {
			return rc, err
		}
	}
	rc.pc = pc
	e.configs.mu.Lock()
	if e.configs.m == nil || len(e.configs.m) > 10000 {
		e.configs.m = map[uuid.UUID]resolvedConfig{}
	}
	e.configs.m[id] = rc
	e.configs.mu.Unlock()
	return rc, nil
}
