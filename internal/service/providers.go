package service

import (
	"context"
	"errors"
	"net/url"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"flowker/internal/audit"
	"flowker/internal/catalog"
	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/secret"
	"flowker/internal/store"
)

func providerConfigAttr(id uuid.UUID) trace.SpanStartOption {
	return trace.WithAttributes(attribute.String("provider_config.id", id.String()))
}

// ProviderConfigPatch is a partial update: nil fields are unchanged.
// Config, when present, replaces the whole config; Metadata is merged.
type ProviderConfigPatch struct {
	Name        *string
	Description *string
	Config      map[string]any
	Metadata    map[string]any
}

// secretPolicy says which values of a provider's configs are secret: what
// its schema marks writeOnly, every header value not declared safe, URLs
// with user information (docs/security.md, "What is secret").
func (s *Service) secretPolicy(providerID string) secret.Policy {
	if p, ok := s.catalog.Provider(providerID); ok {
		return secret.SchemaPolicy(p.ConfigSchema)
	}
	return secret.Policy{}
}

// checkProviderConfig validates a plaintext config against its provider.
func (s *Service) checkProviderConfig(pc *flow.ProviderConfig) error {
	if pc.ProviderID == "" {
		return flow.Invalidf("FLK-0297", "providerId is required")
	}
	p, ok := s.catalog.Provider(pc.ProviderID)
	if !ok { // a reference in the body, not the resource asked for: 400, not 404
		return flow.Invalidf("FLK-0294", "providerId: provider not found in catalog: %q", pc.ProviderID)
	}
	if err := flow.ValidateProviderConfig(pc); err != nil {
		return err
	}
	if err := p.ValidateConfig(pc.Config); err != nil {
		return flow.Errorf(flow.KindUnprocessable, "FLK-0293", "config validation failed against provider schema: %v", err)
	}
	if err := flow.CheckProviderURLs(pc); err != nil { // base_url and the like: http or https only (400 FLK-0263)
		return err
	}
	// What every call derives from it: credentials and headers that could
	// never be sent were stored active, and every call failed (found by a
	// defect hunt).
	if _, err := provider.TargetFor(pc.ProviderID, pc.Config); err != nil {
		return flow.Errorf(flow.KindUnprocessable, "FLK-0293", "config validation failed: %v", err)
	}
	return nil
}

// sealProviderConfig encrypts pc's secrets in place, for storage.
func (s *Service) sealProviderConfig(pc *flow.ProviderConfig) error {
	cfg, err := s.box.Seal(pc.Config, "config", s.secretPolicy(pc.ProviderID))
	pc.Config = cfg
	return err
}

// openProviderConfig decrypts a stored configuration's secrets in place.
func (s *Service) openProviderConfig(pc *flow.ProviderConfig) error {
	cfg, err := s.box.Open(pc.Config, "config")
	pc.Config = cfg
	return err
}

// maskedProviderConfig is what the API shows: secrets masked.
func (s *Service) maskedProviderConfig(pc *flow.ProviderConfig) (*flow.ProviderConfig, error) {
	if err := s.openProviderConfig(pc); err != nil {
		return nil, err
	}
	pc.Config = secret.Mask(pc.Config, s.secretPolicy(pc.ProviderID))
	return pc, nil
}

// CreateProviderConfig validates against the provider's schema and stores
// the configuration, active, with its secrets sealed.
func (s *Service) CreateProviderConfig(ctx context.Context, pc flow.ProviderConfig) (out *flow.ProviderConfig, err error) {
	ctx, end := s.op(ctx, "command.provider_config.create")
	defer end(&err)
	now := s.now()
	pc.ID, pc.Status, pc.Revision, pc.CreatedAt, pc.UpdatedAt = s.newID(), flow.ConfigActive, 1, now, now
	if err := s.checkProviderConfig(&pc); err != nil {
		return nil, err
	}
	if err := s.sealProviderConfig(&pc); err != nil {
		return nil, err
	}
	err = s.catalogTx(ctx, func(_ context.Context, tx store.Tx) error {
		if err := tx.CreateProviderConfig(ctx, &pc); err != nil {
			return err
		}
		return s.record(ctx, tx, audit.ProviderConfigCreated, "CREATE", resProviderConfig, pc.ID.String(),
			map[string]any{"provider_config.name": pc.Name, "provider_config.provider_id": pc.ProviderID})
	})
	if err != nil {
		return nil, err
	}
	return s.maskedProviderConfig(&pc)
}

// GetProviderConfig returns one configuration, secrets masked.
func (s *Service) GetProviderConfig(ctx context.Context, id uuid.UUID) (pc *flow.ProviderConfig, err error) {
	ctx, end := s.op(ctx, "query.provider_config.get", providerConfigAttr(id))
	defer end(&err)
	if pc, err = s.store.GetProviderConfig(ctx, id); err != nil {
		return nil, err
	}
	return s.maskedProviderConfig(pc)
}

// ListProviderConfigs returns a page, secrets masked.
func (s *Service) ListProviderConfigs(ctx context.Context, f flow.ConfigFilter) (p flow.Page[flow.ProviderConfig], err error) {
	ctx, end := s.op(ctx, "query.provider_config.list")
	defer end(&err)
	if p, err = s.store.ListProviderConfigs(ctx, f); err != nil {
		return p, err
	}
	for i := range p.Items {
		if _, err := s.maskedProviderConfig(&p.Items[i]); err != nil {
			return p, err
		}
	}
	return p, nil
}

// UpdateProviderConfig applies a patch. A config sent back with masked
// secrets keeps the stored secrets.
func (s *Service) UpdateProviderConfig(ctx context.Context, id uuid.UUID, patch ProviderConfigPatch) (out *flow.ProviderConfig, err error) {
	ctx, end := s.op(ctx, "command.provider_config.update", providerConfigAttr(id))
	defer end(&err)
	return s.changeProviderConfig(ctx, id, audit.ProviderConfigUpdated, "UPDATE", func(tx store.Tx, pc *flow.ProviderConfig) error {
		if patch.Name != nil {
			pc.Name = *patch.Name
		}
		if patch.Description != nil {
			pc.Description = *patch.Description
		}
		if patch.Config != nil {
			cfg, err := secret.KeepMasked(patch.Config, pc.Config, s.secretPolicy(pc.ProviderID))
			var me *secret.MaskedError
			if errors.As(err, &me) {
				return flow.Invalidf(flow.CodeInvalidBody, "config.%s", me.Error())
			}
			if err != nil {
				return err
			}
			if secret.DestinationsMoved(cfg, pc.Config) {
				if err := refuseSecretsMoved(ctx, tx, "providerConfigId", "provider configuration", pc.ID); err != nil {
					return err
				}
			}
			pc.Config = cfg
		}
		pc.Metadata = flow.MergeMetadata(pc.Metadata, patch.Metadata)
		pc.Touch(s.now())
		return s.checkProviderConfig(pc)
	})
}

// SetProviderConfigStatus enables (active) or disables a configuration.
func (s *Service) SetProviderConfigStatus(ctx context.Context, id uuid.UUID, to flow.ConfigStatus) (out *flow.ProviderConfig, err error) {
	name, event, action := "command.provider_config.enable", audit.ProviderConfigEnabled, "ENABLE"
	if to == flow.ConfigDisabled {
		name, event, action = "command.provider_config.disable", audit.ProviderConfigDisabled, "DISABLE"
	}
	ctx, end := s.op(ctx, name, providerConfigAttr(id))
	defer end(&err)
	return s.changeProviderConfig(ctx, id, event, action, func(_ store.Tx, pc *flow.ProviderConfig) error {
		return pc.SetStatus(to, s.now())
	})
}

// DeleteProviderConfig removes a configuration in any status.
func (s *Service) DeleteProviderConfig(ctx context.Context, id uuid.UUID) (err error) {
	ctx, end := s.op(ctx, "command.provider_config.delete", providerConfigAttr(id))
	defer end(&err)
	return s.writeTx(ctx, "provider configuration", func(tx store.Tx) error {
		pc, err := tx.GetProviderConfig(ctx, id)
		if err != nil {
			return err
		}
		if err := checkRevision(ctx, "provider configuration", pc.Revision); err != nil {
			return err
		}
		if err := refuseInUse(ctx, tx, "providerConfigId", "provider configuration", id); err != nil {
			return err
		}
		if err := tx.DeleteProviderConfig(ctx, id, pc.Revision); err != nil {
			return err
		}
		return s.record(ctx, tx, audit.ProviderConfigDeleted, "DELETE", resProviderConfig, id.String(),
			map[string]any{"provider_config.id": id.String(), "provider_config.name": pc.Name})
	})
}

// changeProviderConfig is read, open, modify, seal, conditional write.
func (s *Service) changeProviderConfig(ctx context.Context, id uuid.UUID, event, action string,
	modify func(store.Tx, *flow.ProviderConfig) error) (*flow.ProviderConfig, error) {
	var pc *flow.ProviderConfig
	err := s.writeTx(ctx, "provider configuration", func(tx store.Tx) error {
		var err error
		if pc, err = tx.GetProviderConfig(ctx, id); err != nil {
			return err
		}
		prev := pc.Revision
		if err := checkRevision(ctx, "provider configuration", prev); err != nil {
			return err
		}
		if err := s.openProviderConfig(pc); err != nil {
			return err
		}
		if err := modify(tx, pc); err != nil {
			return err
		}
		if err := s.sealProviderConfig(pc); err != nil {
			return err
		}
		if err := tx.UpdateProviderConfig(ctx, pc, prev); err != nil {
			return err
		}
		return s.record(ctx, tx, event, action, resProviderConfig, pc.ID.String(),
			map[string]any{"provider_config.name": pc.Name, "status": string(pc.Status)})
	})
	if err != nil {
		return nil, err
	}
	return s.maskedProviderConfig(pc)
}

// ProviderTestResult is a provider configuration's connectivity test.
type ProviderTestResult struct {
	ProviderConfigID uuid.UUID
	ProviderID       string
	provider.TestResult
}

// TestProviderConfig runs the three-stage connectivity test with the same
// authentication the engine uses. Nothing is stored.
func (s *Service) TestProviderConfig(ctx context.Context, id uuid.UUID) (res *ProviderTestResult, err error) {
	ctx, end := s.op(ctx, "command.provider_config.test_connectivity", providerConfigAttr(id))
	defer end(&err)
	pc, err := s.store.GetProviderConfig(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.openProviderConfig(pc); err != nil {
		return nil, err
	}
	target, err := provider.TargetFor(pc.ProviderID, pc.Config)
	if err != nil {
		return nil, flow.Errorf(flow.KindUnprocessable, "FLK-0340", "provider configuration cannot be tested: %v", err)
	}
	if u, err := url.Parse(target.BaseURL); err != nil || u.Host == "" {
		return nil, flow.Errorf(flow.KindUnprocessable, "FLK-0340",
			"provider configuration config missing required field 'base_url'")
	}
	res = &ProviderTestResult{ProviderConfigID: pc.ID, ProviderID: pc.ProviderID, TestResult: s.http.Test(ctx, target)}
	if res.Blocked() { // the reference's answer: no test result for a destination never tried
		return nil, flow.Errorf(flow.KindUnprocessable, "FLK-0341",
			"provider configuration base_url targets a restricted destination")
	}
	// Its event only: no catalog write, so no turn among those that wait
	// for the catalog lock (boundedTx).
	err = s.boundedTx(ctx, false, func(_ context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, s.auditEvent(ctx, audit.ProviderConfigTested, "TEST", testResult(res.TestResult),
			resProviderConfig, pc.ID.String(), map[string]any{"overallStatus": res.OverallStatus}))
	})
	return res, err
}

// activeProviderChoices lists a provider's active configurations by name,
// for template parameter choices.
func (s *Service) activeProviderChoices(ctx context.Context, providerID string) ([]catalog.Choice, error) {
	page, err := s.store.ListProviderConfigs(ctx, flow.ConfigFilter{ProviderID: providerID, Status: flow.ConfigActive,
		Page: flow.PageRequest{Limit: flow.MaxPageSize, SortBy: "name"}})
	if err != nil {
		return nil, err
	}
	out := make([]catalog.Choice, len(page.Items))
	for i, pc := range page.Items {
		out[i] = catalog.Choice{ID: pc.ID.String(), Name: pc.Name}
	}
	return out, nil
}

// testResult is the audit result of a connectivity test.
func testResult(r provider.TestResult) string {
	if r.Passed {
		return "SUCCESS"
	}
	return "FAILED"
}
