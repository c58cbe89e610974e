package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/secret"
)

// configTTL is how long a resolved provider configuration is reused: every
// step used to read and decrypt it again. An edit (or a disable) reaches
// running executions within this time.
const configTTL = 2 * time.Second

// resolvedConfig is a provider configuration ready for calls.
type resolvedConfig struct {
	pc      *flow.ProviderConfig // Config opened (plaintext)
	target  provider.TestTarget  // auth and headers derived from it
	expires time.Time
}

type configCache struct {
	mu sync.Mutex
	m  map[uuid.UUID]resolvedConfig
}

// providerConfig returns an active provider configuration, opened, with the
// target derived from it.
func (e *Engine) providerConfig(ctx context.Context, id uuid.UUID) (resolvedConfig, error) {
	now := e.clock.Now()
	e.configs.mu.Lock()
	rc, ok := e.configs.m[id]
	e.configs.mu.Unlock()
	if ok && now.Before(rc.expires) {
		return rc, nil
	}
	pc, err := e.store.GetProviderConfig(ctx, id)
	if err != nil {
		return rc, fmt.Errorf("provider configuration %s: %w", id, err)
	}
	if pc.Status != flow.ConfigActive {
		return rc, fmt.Errorf("provider configuration %s is %s", id, pc.Status)
	}
	fields := secret.NewFields()
	if prov, ok := e.catalog.Provider(pc.ProviderID); ok {
		fields = secret.NewFields(prov.SecretKeys()...)
	}
	if pc.Config, err = e.box.Open(pc.Config, "config", fields); err != nil {
		return rc, err
	}
	tt, err := provider.TargetFor(pc.ProviderID, pc.Config)
	if err != nil {
		return rc, err
	}
	rc = resolvedConfig{pc: pc, target: tt, expires: now.Add(configTTL)}
	e.configs.mu.Lock()
	if e.configs.m == nil || len(e.configs.m) > 10000 {
		e.configs.m = map[uuid.UUID]resolvedConfig{}
	}
	e.configs.m[id] = rc
	e.configs.mu.Unlock()
	return rc, nil
}
