package faultstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
)

// tx is a store.Tx whose every method first passes the armed faults: one
// method per store.Tx method, in the interface's order (the assertion
// below fails the build when the interface gains one).
type tx struct {
	f *Store
	t store.Tx
}

var _ store.Tx = tx{}

func (x tx) CreateWorkflow(ctx context.Context, w *flow.Workflow) error {
	if err := x.f.enter(ctx, "CreateWorkflow"); err != nil {
		return err
	}
	return x.t.CreateWorkflow(ctx, w)
}

func (x tx) GetWorkflow(ctx context.Context, id uuid.UUID) (*flow.Workflow, error) {
	if err := x.f.enter(ctx, "GetWorkflow"); err != nil {
		return nil, err
	}
	return x.t.GetWorkflow(ctx, id)
}

func (x tx) ListWorkflows(ctx context.Context, f flow.WorkflowFilter) (flow.Page[flow.Workflow], error) {
	if err := x.f.enter(ctx, "ListWorkflows"); err != nil {
		return flow.Page[flow.Workflow]{}, err
	}
	return x.t.ListWorkflows(ctx, f)
}

func (x tx) UpdateWorkflow(ctx context.Context, w *flow.Workflow, prevRevision int) error {
	if err := x.f.enter(ctx, "UpdateWorkflow"); err != nil {
		return err
	}
	return x.t.UpdateWorkflow(ctx, w, prevRevision)
}

func (x tx) DeleteWorkflow(ctx context.Context, id uuid.UUID, prevRevision int) error {
	if err := x.f.enter(ctx, "DeleteWorkflow"); err != nil {
		return err
	}
	return x.t.DeleteWorkflow(ctx, id, prevRevision)
}

func (x tx) CreateProviderConfig(ctx context.Context, p *flow.ProviderConfig) error {
	if err := x.f.enter(ctx, "CreateProviderConfig"); err != nil {
		return err
	}
	return x.t.CreateProviderConfig(ctx, p)
}

func (x tx) WorkflowRevision(ctx context.Context, id uuid.UUID) (int, error) {
	if err := x.f.enter(ctx, "WorkflowRevision"); err != nil {
		return 0, err
	}
	return x.t.WorkflowRevision(ctx, id)
}

func (x tx) ProviderConfigRevision(ctx context.Context, id uuid.UUID) (int, error) {
	if err := x.f.enter(ctx, "ProviderConfigRevision"); err != nil {
		return 0, err
	}
	return x.t.ProviderConfigRevision(ctx, id)
}

func (x tx) GetProviderConfig(ctx context.Context, id uuid.UUID) (*flow.ProviderConfig, error) {
	if err := x.f.enter(ctx, "GetProviderConfig"); err != nil {
		return nil, err
	}
	return x.t.GetProviderConfig(ctx, id)
}

func (x tx) ListProviderConfigs(ctx context.Context, f flow.ConfigFilter) (flow.Page[flow.ProviderConfig], error) {
	if err := x.f.enter(ctx, "ListProviderConfigs"); err != nil {
		return flow.Page[flow.ProviderConfig]{}, err
	}
	return x.t.ListProviderConfigs(ctx, f)
}

func (x tx) UpdateProviderConfig(ctx context.Context, p *flow.ProviderConfig, prevRevision int) error {
	if err := x.f.enter(ctx, "UpdateProviderConfig"); err != nil {
		return err
	}
	return x.t.UpdateProviderConfig(ctx, p, prevRevision)
}

func (x tx) DeleteProviderConfig(ctx context.Context, id uuid.UUID, prevRevision int) error {
	if err := x.f.enter(ctx, "DeleteProviderConfig"); err != nil {
		return err
	}
	return x.t.DeleteProviderConfig(ctx, id, prevRevision)
}

func (x tx) CreateExecutorConfig(ctx context.Context, e *flow.ExecutorConfig) error {
	if err := x.f.enter(ctx, "CreateExecutorConfig"); err != nil {
		return err
	}
	return x.t.CreateExecutorConfig(ctx, e)
}

func (x tx) GetExecutorConfig(ctx context.Context, id uuid.UUID) (*flow.ExecutorConfig, error) {
	if err := x.f.enter(ctx, "GetExecutorConfig"); err != nil {
		return nil, err
	}
	return x.t.GetExecutorConfig(ctx, id)
}

func (x tx) ListExecutorConfigs(ctx context.Context, f flow.ConfigFilter) (flow.Page[flow.ExecutorConfig], error) {
	if err := x.f.enter(ctx, "ListExecutorConfigs"); err != nil {
		return flow.Page[flow.ExecutorConfig]{}, err
	}
	return x.t.ListExecutorConfigs(ctx, f)
}

func (x tx) UpdateExecutorConfig(ctx context.Context, e *flow.ExecutorConfig, prevRevision int) error {
	if err := x.f.enter(ctx, "UpdateExecutorConfig"); err != nil {
		return err
	}
	return x.t.UpdateExecutorConfig(ctx, e, prevRevision)
}

func (x tx) DeleteExecutorConfig(ctx context.Context, id uuid.UUID, prevRevision int) error {
	if err := x.f.enter(ctx, "DeleteExecutorConfig"); err != nil {
		return err
	}
	return x.t.DeleteExecutorConfig(ctx, id, prevRevision)
}

func (x tx) SaveWorkflowVersion(ctx context.Context, v *flow.WorkflowVersion) error {
	if err := x.f.enter(ctx, "SaveWorkflowVersion"); err != nil {
		return err
	}
	return x.t.SaveWorkflowVersion(ctx, v)
}

func (x tx) GetWorkflowVersion(ctx context.Context, workflowID uuid.UUID, revision int) (*flow.WorkflowVersion, error) {
	if err := x.f.enter(ctx, "GetWorkflowVersion"); err != nil {
		return nil, err
	}
	return x.t.GetWorkflowVersion(ctx, workflowID, revision)
}

func (x tx) ReplaceWebhookRoutes(ctx context.Context, workflowID uuid.UUID, routes []flow.WebhookRoute) error {
	if err := x.f.enter(ctx, "ReplaceWebhookRoutes"); err != nil {
		return err
	}
	return x.t.ReplaceWebhookRoutes(ctx, workflowID, routes)
}

func (x tx) FindWebhookRoute(ctx context.Context, method, path string) (*flow.WebhookRoute, error) {
	if err := x.f.enter(ctx, "FindWebhookRoute"); err != nil {
		return nil, err
	}
	return x.t.FindWebhookRoute(ctx, method, path)
}

func (x tx) CreateExecution(ctx context.Context, e *flow.Execution) error {
	if err := x.f.enter(ctx, "CreateExecution"); err != nil {
		return err
	}
	return x.t.CreateExecution(ctx, e)
}

func (x tx) CreateEncodedExecution(ctx context.Context, e store.NewExecution) error {
	if err := x.f.enter(ctx, "CreateExecution"); err != nil { // the same insert: faults armed for it apply
		return err
	}
	return x.t.CreateEncodedExecution(ctx, e)
}

func (x tx) GetExecution(ctx context.Context, id uuid.UUID) (*flow.Execution, error) {
	if err := x.f.enter(ctx, "GetExecution"); err != nil {
		return nil, err
	}
	return x.t.GetExecution(ctx, id)
}

func (x tx) FindExecutionByKey(ctx context.Context, workflowID uuid.UUID, key string) (*flow.Execution, error) {
	if err := x.f.enter(ctx, "FindExecutionByKey"); err != nil {
		return nil, err
	}
	return x.t.FindExecutionByKey(ctx, workflowID, key)
}

func (x tx) ListExecutions(ctx context.Context, f flow.ExecutionFilter) (flow.Page[flow.Execution], error) {
	if err := x.f.enter(ctx, "ListExecutions"); err != nil {
		return flow.Page[flow.Execution]{}, err
	}
	return x.t.ListExecutions(ctx, f)
}

func (x tx) ListSteps(ctx context.Context, executionID uuid.UUID) ([]flow.Step, error) {
	if err := x.f.enter(ctx, "ListSteps"); err != nil {
		return nil, err
	}
	return x.t.ListSteps(ctx, executionID)
}

func (x tx) ReadBackExecution(ctx context.Context, id uuid.UUID, got *store.ExecutionResults) error {
	if err := x.f.enter(ctx, "ReadBackExecution"); err != nil {
		return err
	}
	return x.t.ReadBackExecution(ctx, id, got)
}

func (x tx) ReadCatalogView(ctx context.Context, view *store.CatalogView) error {
	if err := x.f.enter(ctx, "ReadCatalogView"); err != nil {
		return err
	}
	return x.t.ReadCatalogView(ctx, view)
}

func (x tx) LockCatalog(ctx context.Context) error {
	if err := x.f.enter(ctx, "LockCatalog"); err != nil {
		return err
	}
	return x.t.LockCatalog(ctx)
}

func (x tx) SaveProgress(ctx context.Context, owner string, e *flow.Execution, steps []flow.Step, cancelRequested *bool) error {
	if err := x.f.enter(ctx, "SaveProgress"); err != nil {
		return err
	}
	return x.t.SaveProgress(ctx, owner, e, steps, cancelRequested)
}

func (x tx) SaveEncodedProgress(ctx context.Context, p store.Progress, cancelRequested *bool) error {
	if err := x.f.enter(ctx, "SaveProgress"); err != nil { // the same write: faults armed for it apply
		return err
	}
	return x.t.SaveEncodedProgress(ctx, p, cancelRequested)
}

func (x tx) ClaimExecutions(ctx context.Context, owner string, now, until time.Time, limit int, reclaimOwn bool) ([]uuid.UUID, error) {
	if err := x.f.enter(ctx, "ClaimExecutions"); err != nil {
		return nil, err
	}
	return x.t.ClaimExecutions(ctx, owner, now, until, limit, reclaimOwn)
}

func (x tx) ExtendLeases(ctx context.Context, owner string, ids []uuid.UUID, until time.Time) (int, error) {
	if err := x.f.enter(ctx, "ExtendLeases"); err != nil {
		return 0, err
	}
	return x.t.ExtendLeases(ctx, owner, ids, until)
}

func (x tx) ReleaseLeases(ctx context.Context, owner string, now time.Time) error {
	if err := x.f.enter(ctx, "ReleaseLeases"); err != nil {
		return err
	}
	return x.t.ReleaseLeases(ctx, owner, now)
}

func (x tx) CountUnfinished(ctx context.Context) (int64, error) {
	if err := x.f.enter(ctx, "CountUnfinished"); err != nil {
		return 0, err
	}
	return x.t.CountUnfinished(ctx)
}

func (x tx) RequestCancel(ctx context.Context, id uuid.UUID, now time.Time) (*flow.Execution, bool, error) {
	if err := x.f.enter(ctx, "RequestCancel"); err != nil {
		return nil, false, err
	}
	return x.t.RequestCancel(ctx, id, now)
}

func (x tx) Requeue(ctx context.Context, id uuid.UUID, owner string, now, until time.Time) (*flow.Execution, error) {
	if err := x.f.enter(ctx, "Requeue"); err != nil {
		return nil, err
	}
	return x.t.Requeue(ctx, id, owner, now, until)
}

func (x tx) AppendAudit(ctx context.Context, e *audit.Event) error {
	if err := x.f.enter(ctx, "AppendAudit"); err != nil {
		return err
	}
	return x.t.AppendAudit(ctx, e)
}

func (x tx) GetAudit(ctx context.Context, id uuid.UUID) (*audit.Event, error) {
	if err := x.f.enter(ctx, "GetAudit"); err != nil {
		return nil, err
	}
	return x.t.GetAudit(ctx, id)
}

func (x tx) ListAudit(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	if err := x.f.enter(ctx, "ListAudit"); err != nil {
		return nil, err
	}
	return x.t.ListAudit(ctx, f)
}

func (x tx) WalkAudit(ctx context.Context, fromSeq, toSeq int64, fn func(*audit.Event) bool) error {
	if err := x.f.enter(ctx, "WalkAudit"); err != nil {
		return err
	}
	return x.t.WalkAudit(ctx, fromSeq, toSeq, fn)
}

func (x tx) AuditHashBefore(ctx context.Context, seq int64) (string, error) {
	if err := x.f.enter(ctx, "AuditHashBefore"); err != nil {
		return "", err
	}
	return x.t.AuditHashBefore(ctx, seq)
}

func (x tx) CountWorkflowsByStatus(ctx context.Context) (map[flow.WorkflowStatus]int64, error) {
	if err := x.f.enter(ctx, "CountWorkflowsByStatus"); err != nil {
		return nil, err
	}
	return x.t.CountWorkflowsByStatus(ctx)
}

func (x tx) CountExecutionsByStatus(ctx context.Context, from, to *time.Time, status flow.ExecutionStatus) (map[flow.ExecutionStatus]int64, error) {
	if err := x.f.enter(ctx, "CountExecutionsByStatus"); err != nil {
		return nil, err
	}
	return x.t.CountExecutionsByStatus(ctx, from, to, status)
}

func (x tx) CountExecutionsBySlot(ctx context.Context, from, to time.Time, workflowID *uuid.UUID) ([]flow.SlotCount, error) {
	if err := x.f.enter(ctx, "CountExecutionsBySlot"); err != nil {
		return nil, err
	}
	return x.t.CountExecutionsBySlot(ctx, from, to, workflowID)
}
