package sqlstore

import (
	"context"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

var providerConfigs = &table[flow.ProviderConfig]{
	name: "provider_configurations",
	columns: []string{"id", "name", "description", "provider_id", "config", "status", "metadata", "revision",
		"created_at", "updated_at"},
	args: func(p *flow.ProviderConfig) ([]any, error) {
		cfg, err1 := marshalJSON("provider configuration config", p.Config, "{}")
		meta, err2 := marshalJSON("provider configuration metadata", p.Metadata, "{}")
		err := firstErr(checkTexts("provider configuration name", p.Name, "provider configuration description",
			p.Description, "provider id", p.ProviderID), err1, err2)
		return []any{p.ID.String(), p.Name, p.Description, p.ProviderID, cfg, string(p.Status), meta, p.Revision,
			timeArg(p.CreatedAt), timeArg(p.UpdatedAt)}, err
	},
	scan: func(s scanner) (*flow.ProviderConfig, error) {
		var p flow.ProviderConfig
		var status string
		var cfg, meta []byte
		if err := s.Scan(dbUUID{&p.ID}, &p.Name, &p.Description, &p.ProviderID, &cfg, &status, &meta, &p.Revision,
			dbTime{&p.CreatedAt}, dbTime{&p.UpdatedAt}); err != nil {
			return nil, err
		}
		p.Status = flow.ConfigStatus(status)
		return &p, unmarshalJSON("provider configuration "+p.ID.String(), cfg, &p.Config, meta, &p.Metadata)
	},
	id:    func(p *flow.ProviderConfig) uuid.UUID { return p.ID },
	sorts: nameTimeSorts,
	sortValue: func(p *flow.ProviderConfig, by string) string {
		return nameTimeValue(p.Name, p.CreatedAt, p.UpdatedAt, by)
	},
	notFound: flow.ErrProviderConfigNotFound,
	conflict: flow.ErrProviderConfigNameUsed,
	catalog:  true,
	sealed:   true,
}

func (q *queries) CreateProviderConfig(ctx context.Context, p *flow.ProviderConfig) error {
	return providerConfigs.insert(ctx, q, p)
}

func (q *queries) GetProviderConfig(ctx context.Context, id uuid.UUID) (*flow.ProviderConfig, error) {
	return providerConfigs.get(ctx, q.r, id)
}

func (q *queries) ProviderConfigRevision(ctx context.Context, id uuid.UUID) (int, error) {
	return providerConfigs.revision(ctx, q.r, id)
}

func (q *queries) ListProviderConfigs(ctx context.Context, f flow.ConfigFilter) (flow.Page[flow.ProviderConfig], error) {
	return providerConfigs.list(ctx, q, []filter{
		eq("status", string(f.Status)), eq("provider_id", f.ProviderID), eq("name", f.Name)}, f.Page)
}

func (q *queries) UpdateProviderConfig(ctx context.Context, p *flow.ProviderConfig, prevRevision int) error {
	return providerConfigs.update(ctx, q, p, prevRevision)
}

func (q *queries) DeleteProviderConfig(ctx context.Context, id uuid.UUID, prevRevision int) error {
	return providerConfigs.delete(ctx, q, id, prevRevision)
}

var executorConfigs = &table[flow.ExecutorConfig]{
	name: "executor_configurations",
	columns: []string{"id", "name", "description", "base_url", "endpoints", "authentication", "status", "metadata",
		"revision", "created_at", "updated_at", "last_tested_at"},
	args: func(e *flow.ExecutorConfig) ([]any, error) {
		eps, err1 := marshalJSON("executor configuration endpoints", e.Endpoints, "[]")
		auth, err2 := marshalJSON("executor configuration authentication", e.Authentication, "{}")
		meta, err3 := marshalJSON("executor configuration metadata", e.Metadata, "{}")
		err := firstErr(checkTexts("executor configuration name", e.Name, "executor configuration description",
			e.Description, "executor configuration base URL", e.BaseURL), err1, err2, err3)
		return []any{e.ID.String(), e.Name, e.Description, e.BaseURL, eps, auth, string(e.Status), meta, e.Revision,
			timeArg(e.CreatedAt), timeArg(e.UpdatedAt), nullTimeArg(e.LastTestedAt)}, err
	},
	scan: func(s scanner) (*flow.ExecutorConfig, error) {
		var e flow.ExecutorConfig
		var status string
		var eps, auth, meta []byte
		if err := s.Scan(dbUUID{&e.ID}, &e.Name, &e.Description, &e.BaseURL, &eps, &auth, &status, &meta, &e.Revision,
			dbTime{&e.CreatedAt}, dbTime{&e.UpdatedAt}, dbNullTime{&e.LastTestedAt}); err != nil {
			return nil, err
		}
		e.Status = flow.ConfigStatus(status)
		return &e, unmarshalJSON("executor configuration "+e.ID.String(),
			eps, &e.Endpoints, auth, &e.Authentication, meta, &e.Metadata)
	},
	id:    func(e *flow.ExecutorConfig) uuid.UUID { return e.ID },
	sorts: nameTimeSorts,
	sortValue: func(e *flow.ExecutorConfig, by string) string {
		return nameTimeValue(e.Name, e.CreatedAt, e.UpdatedAt, by)
	},
	notFound: flow.ErrExecutorConfigNotFound,
	conflict: flow.ErrExecutorConfigNameUsed,
	sealed:   true, // its authentication and base URL
}

func (q *queries) CreateExecutorConfig(ctx context.Context, e *flow.ExecutorConfig) error {
	return executorConfigs.insert(ctx, q, e)
}

func (q *queries) GetExecutorConfig(ctx context.Context, id uuid.UUID) (*flow.ExecutorConfig, error) {
	return executorConfigs.get(ctx, q.r, id)
}

func (q *queries) ListExecutorConfigs(ctx context.Context, f flow.ConfigFilter) (flow.Page[flow.ExecutorConfig], error) {
	return executorConfigs.list(ctx, q, []filter{eq("status", string(f.Status)), eq("name", f.Name)}, f.Page)
}

func (q *queries) UpdateExecutorConfig(ctx context.Context, e *flow.ExecutorConfig, prevRevision int) error {
	return executorConfigs.update(ctx, q, e, prevRevision)
}

func (q *queries) DeleteExecutorConfig(ctx context.Context, id uuid.UUID, prevRevision int) error {
	return executorConfigs.delete(ctx, q, id, prevRevision)
}
