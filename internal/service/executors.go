package service

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/secret"
	"flowker/internal/store"
)

func executorAttr(id uuid.UUID) trace.SpanStartOption {
	return trace.WithAttributes(attribute.String("executor.id", id.String()))
}

// authPolicy says which values of an executor's authentication config are
// secret: its fields are the http provider's auth object, so that schema
// decides (writeOnly), names elsewhere (e.g. the reference's "key").
func (s *Service) authPolicy() secret.Policy {
	if p, ok := s.catalog.Provider("http"); ok {
		return secret.SchemaPolicy(p.ConfigSchema).Sub("auth")
	}
	return secret.Policy{}
}

// executorAuth turns an executor configuration's authentication into the
// provider client's form; a missing field for the type is a 400.
func executorAuth(a flow.Authentication) (provider.Auth, error) {
	m := make(map[string]any, len(a.Config)+1)
	for k, v := range a.Config {
		m[k] = v
	}
	m["type"] = a.Type
	auth, err := provider.AuthFromMap(m)
	if err != nil {
		return auth, flow.Invalidf("FLK-0266", "authentication config invalid: %v", err)
	}
	return auth, nil
}

// checkExecutorConfig normalises and validates a plaintext configuration.
func checkExecutorConfig(e *flow.ExecutorConfig) error {
	if err := flow.NormalizeExecutorConfig(e); err != nil {
		return err
	}
	_, err := executorAuth(e.Authentication)
	return err
}

// sealExecutorConfig encrypts e's secrets (authentication, a base URL
// with user information) in place, for storage.
func (s *Service) sealExecutorConfig(e *flow.ExecutorConfig) error {
	return s.box.SealExecutor(e, s.authPolicy())
}

func (s *Service) openExecutorConfig(e *flow.ExecutorConfig) error {
	return s.box.OpenExecutor(e)
}

func (s *Service) maskedExecutorConfig(e *flow.ExecutorConfig) (*flow.ExecutorConfig, error) {
	if err := s.openExecutorConfig(e); err != nil {
		return nil, err
	}
	secret.MaskExecutor(e, s.authPolicy())
	return e, nil
}

// CreateExecutorConfig stores a new executor configuration, unconfigured.
func (s *Service) CreateExecutorConfig(ctx context.Context, e flow.ExecutorConfig) (out *flow.ExecutorConfig, err error) {
	ctx, end := s.op(ctx, "command.executor_config.create")
	defer end(&err)
	now := s.now()
	e.ID, e.Status, e.Revision, e.CreatedAt, e.UpdatedAt, e.LastTestedAt = s.newID(), flow.ConfigUnconfigured, 1, now, now, nil
	if err := checkExecutorConfig(&e); err != nil {
		return nil, err
	}
	if err := s.sealExecutorConfig(&e); err != nil {
		return nil, err
	}
	err = s.catalogTx(ctx, func(_ context.Context, tx store.Tx) error {
		if err := tx.CreateExecutorConfig(ctx, &e); err != nil {
			return err
		}
		return s.record(ctx, tx, audit.ExecutorConfigCreated, "CREATE", resExecutorConfig, e.ID.String(),
			map[string]any{"executor_config.name": e.Name})
	})
	if err != nil {
		return nil, err
	}
	return s.maskedExecutorConfig(&e)
}

// UpdateExecutorConfig replaces the definition (the reference's PATCH is a
// full replacement) while unconfigured or configured; metadata is merged.
// Authentication secrets sent back masked keep the stored ones.
func (s *Service) UpdateExecutorConfig(ctx context.Context, id uuid.UUID, in flow.ExecutorConfig) (out *flow.ExecutorConfig, err error) {
	ctx, end := s.op(ctx, "command.executor_config.update", executorAttr(id))
	defer end(&err)
	return s.changeExecutorConfig(ctx, id, audit.ExecutorConfigUpdated, "UPDATE", func(tx store.Tx, e *flow.ExecutorConfig) error {
		if err := e.CheckEditable("update"); err != nil {
			return err
		}
		u := in // in stays as sent: a retried write starts from it again
		// Both as saved (flow.TrimBaseURL), once: the masked secrets'
		// check and the move's below must see the same URLs, and a row
		// saved when one slash was dropped per save ("…/v1/"), sent back
		// as read, moves nothing (found by a defect hunt).
		u.BaseURL, e.BaseURL = flow.TrimBaseURL(u.BaseURL), flow.TrimBaseURL(e.BaseURL)
		err := secret.KeepMaskedExecutor(&u, e, s.authPolicy())
		var me *secret.MaskedError
		if errors.As(err, &me) {
			return flow.Invalidf(flow.CodeInvalidBody, "%s", me.Error())
		} else if err != nil {
			return err
		}
		if u.BaseURL != e.BaseURL {
			if err := refuseSecretsMoved(ctx, tx, "executorConfigId", "executor configuration", e.ID); err != nil {
				return err
			}
		}
		e.Name, e.Description, e.BaseURL, e.Endpoints = u.Name, u.Description, u.BaseURL, u.Endpoints
		e.Authentication = flow.Authentication{Type: u.Authentication.Type, Config: u.Authentication.Config}
		e.Metadata = flow.MergeMetadata(e.Metadata, in.Metadata)
		e.Touch(s.now())
		return checkExecutorConfig(e)
	})
}

// executorSpans names each lifecycle action's span as the telemetry page does.
var executorSpans = map[string]string{
	"configure": "command.executor_config.mark_configured",
	"test":      "command.executor_config.mark_tested",
	"activate":  "command.executor_config.activate",
	"disable":   "command.executor_config.disable",
	"enable":    "command.executor_config.enable",
}

// ApplyExecutorAction runs a lifecycle action: configure, activate,
// disable or enable ("test" happens only through TestExecutorConfig).
func (s *Service) ApplyExecutorAction(ctx context.Context, id uuid.UUID, action string) (out *flow.ExecutorConfig, err error) {
	ctx, end := s.op(ctx, executorSpans[action], executorAttr(id))
	defer end(&err)
	event := map[string]string{"configure": audit.ExecutorConfigConfigured, "test": audit.ExecutorConfigMarkedTested,
		"activate": audit.ExecutorConfigActivated, "disable": audit.ExecutorConfigDisabled,
		"enable": audit.ExecutorConfigEnabled}[action]
	return s.changeExecutorConfig(ctx, id, event, strings.ToUpper(action),
		func(_ store.Tx, e *flow.ExecutorConfig) error { return e.Apply(action, s.now()) })
}

// DeleteExecutorConfig removes a configuration that is not tested or active.
func (s *Service) DeleteExecutorConfig(ctx context.Context, id uuid.UUID) (err error) {
	ctx, end := s.op(ctx, "command.executor_config.delete", executorAttr(id))
	defer end(&err)
	return s.writeTx(ctx, "executor configuration", func(tx store.Tx) error {
		e, err := tx.GetExecutorConfig(ctx, id)
		if err != nil {
			return err
		}
		if err := checkRevision(ctx, "executor configuration", e.Revision); err != nil {
			return err
		}
		if err := e.CheckEditable("delete"); err != nil {
			return err
		}
		if err := refuseInUse(ctx, tx, "executorConfigId", "executor configuration", id); err != nil {
			return err
		}
		if err := tx.DeleteExecutorConfig(ctx, id, e.Revision); err != nil {
			return err
		}
		return s.record(ctx, tx, audit.ExecutorConfigDeleted, "DELETE", resExecutorConfig, id.String(),
			map[string]any{"executor_config.name": e.Name})
	})
}

// GetExecutorConfig returns one configuration, secrets masked.
func (s *Service) GetExecutorConfig(ctx context.Context, id uuid.UUID) (e *flow.ExecutorConfig, err error) {
	ctx, end := s.op(ctx, "query.executor_config.get", executorAttr(id))
	defer end(&err)
	if e, err = s.store.GetExecutorConfig(ctx, id); err != nil {
		return nil, err
	}
	return s.maskedExecutorConfig(e)
}

// ListExecutorConfigs returns a page, secrets masked; a name filter is
// "get by name".
func (s *Service) ListExecutorConfigs(ctx context.Context, f flow.ConfigFilter) (p flow.Page[flow.ExecutorConfig], err error) {
	name := "query.executor_config.list"
	if f.Name != "" {
		name = "query.executor_config.get_by_name"
	}
	ctx, end := s.op(ctx, name)
	defer end(&err)
	if p, err = s.store.ListExecutorConfigs(ctx, f); err != nil {
		return p, err
	}
	for i := range p.Items {
		if _, err := s.maskedExecutorConfig(&p.Items[i]); err != nil {
			return p, err
		}
	}
	return p, nil
}

// ExecutorConfigExists reports whether the id exists.
func (s *Service) ExecutorConfigExists(ctx context.Context, id uuid.UUID) (ok bool, err error) {
	ctx, end := s.op(ctx, "query.executor_config.exists", executorAttr(id))
	defer end(&err)
	return exists(s.store.GetExecutorConfig(ctx, id))
}

// ExecutorConfigNameExists reports whether a configuration has this name.
func (s *Service) ExecutorConfigNameExists(ctx context.Context, name string) (ok bool, err error) {
	ctx, end := s.op(ctx, "query.executor_config.exists_by_name")
	defer end(&err)
	p, err := s.store.ListExecutorConfigs(ctx, flow.ConfigFilter{Name: name,
		Page: flow.PageRequest{Limit: 1, SortBy: "name"}})
	return len(p.Items) > 0, err
}

func exists[T any](_ *T, err error) (bool, error) {
	if flow.KindOf(err) == flow.KindNotFound {
		return false, nil
	}
	return err == nil, err
}

// ExecutorTestResult is an executor configuration's connectivity test.
type ExecutorTestResult struct {
	ExecutorConfigID uuid.UUID
	provider.TestResult
	Status flow.ConfigStatus // the configuration's status after the test
}

// TestExecutorConfig runs connectivity, authentication and end to end
// (against the first endpoint) and, when all pass on a configured
// executor, marks it tested.
func (s *Service) TestExecutorConfig(ctx context.Context, id uuid.UUID) (res *ExecutorTestResult, err error) {
	ctx, end := s.op(ctx, "command.executor_config.test_connectivity", executorAttr(id))
	defer end(&err)
	e, err := s.store.GetExecutorConfig(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.openExecutorConfig(e); err != nil {
		return nil, err
	}
	auth, err := executorAuth(e.Authentication)
	if err != nil {
		return nil, err
	}
	ep := e.Endpoints[0]
	result := s.http.Test(ctx, provider.TestTarget{Of: provider.ExecutorConfiguration, BaseURL: e.BaseURL,
		E2EMethod: ep.Method, E2EPath: ep.Path, Header: http.Header{}, Auth: auth})
	res = &ExecutorTestResult{ExecutorConfigID: e.ID, TestResult: result, Status: e.Status}
	// Its event only: no catalog write, so no turn among those that wait
	// for the catalog lock (boundedTx).
	err = s.boundedTx(ctx, false, func(_ context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, s.auditEvent(ctx, audit.ExecutorConfigTested, "TEST", testResult(result),
			resExecutorConfig, e.ID.String(), map[string]any{"overallStatus": result.OverallStatus}))
	})
	if err != nil {
		return nil, err
	}
	if !result.Passed || e.Status != flow.ConfigConfigured {
		return res, nil
	}
	// Marked only if what was probed is still what is stored: a PATCH during
	// the probe (the configuration is still editable) must not pass as
	// tested (found by a defect hunt).
	probed := WithPrecondition(ctx, Precondition{IfMatch: `"` + strconv.Itoa(e.Revision) + `"`, Revisions: []int{e.Revision}})
	marked, err := s.ApplyExecutorAction(probed, id, "test")
	if flow.KindOf(err) == flow.KindPrecondition {
		return res, nil // changed while tested: answered, not marked
	}
	if err != nil {
		return nil, err
	}
	res.Status = marked.Status
	return res, nil
}

// changeExecutorConfig is read, open, modify, seal, conditional write.
func (s *Service) changeExecutorConfig(ctx context.Context, id uuid.UUID, event, action string,
	modify func(store.Tx, *flow.ExecutorConfig) error) (*flow.ExecutorConfig, error) {
	var e *flow.ExecutorConfig
	err := s.writeTx(ctx, "executor configuration", func(tx store.Tx) error {
		var err error
		if e, err = tx.GetExecutorConfig(ctx, id); err != nil {
			return err
		}
		prev := e.Revision
		if err := checkRevision(ctx, "executor configuration", prev); err != nil {
			return err
		}
		if err := s.openExecutorConfig(e); err != nil {
			return err
		}
		if err := modify(tx, e); err != nil {
			return err
		}
		if err := s.sealExecutorConfig(e); err != nil {
			return err
		}
		if err := tx.UpdateExecutorConfig(ctx, e, prev); err != nil {
			return err
		}
		return s.record(ctx, tx, event, action, resExecutorConfig, e.ID.String(),
			map[string]any{"executor_config.name": e.Name, "status": string(e.Status)})
	})
	if err != nil {
		return nil, err
	}
	return s.maskedExecutorConfig(e)
}
