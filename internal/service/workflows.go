package service

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/secret"
	"flowker/internal/store"
)

func workflowAttr(id uuid.UUID) trace.SpanStartOption {
	return trace.WithAttributes(attribute.String("workflow.id", id.String()))
}

// CreateWorkflow validates def and stores it as a new draft.
func (s *Service) CreateWorkflow(ctx context.Context, def flow.Definition) (w *flow.Workflow, err error) {
	ctx, end := s.op(ctx, "command.workflow.create")
	defer end(&err)
	if err := flow.ValidateDefinition(&def); err != nil {
		return nil, err
	}
	w = flow.NewWorkflow(s.newID(), def, s.now())
	err = s.catalogTx(ctx, func(_ context.Context, tx store.Tx) error {
		if err := s.checkWorkflowNodes(ctx, tx, w, false); err != nil {
			return err
		}
		sealed, err := s.sealed(w)
		if err != nil {
			return err
		}
		if err := tx.CreateWorkflow(ctx, sealed); err != nil {
			return err
		}
		return s.record(ctx, tx, audit.WorkflowCreated, "CREATE", resWorkflow, w.ID.String(), map[string]any{"workflow.name": w.Name})
	})
	if err != nil {
		return nil, err
	}
	return s.masked(w), nil
}

// sealed returns a copy of plaintext w whose node-data secrets are encrypted.
func (s *Service) sealed(w *flow.Workflow) (*flow.Workflow, error) {
	c := *w
	var err error
	c.Nodes, err = s.box.SealNodes(w.Nodes, s.nodeSchema)
	return &c, err
}

// opened decrypts a stored workflow's node-data secrets in place.
func (s *Service) opened(w *flow.Workflow) (*flow.Workflow, error) {
	var err error
	w.Nodes, err = s.box.OpenNodes(w.Nodes)
	return w, err
}

// masked is what the API shows of a plaintext workflow.
func (s *Service) masked(w *flow.Workflow) *flow.Workflow {
	c := *w
	c.Nodes = secret.MaskNodes(w.Nodes, s.nodeSchema)
	return &c
}

// nodeSchema is the catalog schema of a node's data, which decides its
// secret fields (secret.NodeSchema): its executor's, or its trigger's.
func (s *Service) nodeSchema(n flow.Node) json.RawMessage {
	switch n.Type {
	case flow.NodeExecutor:
		if id, _ := n.Data["executorId"].(string); id != "" {
			if ex, ok := s.catalog.Executor(id); ok {
				return ex.Schema
			}
		}
	case flow.NodeTrigger:
		if kind, _ := n.Data["triggerType"].(string); kind != "" {
			if t, ok := s.catalog.Trigger(kind); ok {
				return t.Schema
			}
		}
	}
	return nil
}

// readable opens and masks a stored workflow for a response.
func (s *Service) readable(w *flow.Workflow) (*flow.Workflow, error) {
	if _, err := s.opened(w); err != nil {
		return nil, err
	}
	return s.masked(w), nil
}

// GetWorkflow returns one workflow.
func (s *Service) GetWorkflow(ctx context.Context, id uuid.UUID) (w *flow.Workflow, err error) {
	ctx, end := s.op(ctx, "query.workflow.get", workflowAttr(id))
	defer end(&err)
	if w, err = s.store.GetWorkflow(ctx, id); err != nil {
		return nil, err
	}
	return s.readable(w)
}

// ListWorkflows returns a page; a name filter is the "get by name" query.
func (s *Service) ListWorkflows(ctx context.Context, f flow.WorkflowFilter) (p flow.Page[flow.Workflow], err error) {
	name := "query.workflow.list"
	if f.Name != "" {
		name = "query.workflow.get_by_name"
	}
	ctx, end := s.op(ctx, name)
	defer end(&err)
	if p, err = s.store.ListWorkflows(ctx, f); err != nil {
		return p, err
	}
	for i := range p.Items {
		w, err := s.readable(&p.Items[i])
		if err != nil {
			return p, err
		}
		p.Items[i] = *w
	}
	return p, nil
}

// UpdateWorkflow replaces a draft's definition.
func (s *Service) UpdateWorkflow(ctx context.Context, id uuid.UUID, def flow.Definition) (w *flow.Workflow, err error) {
	ctx, end := s.op(ctx, "command.workflow.update", workflowAttr(id))
	defer end(&err)
	return s.change(ctx, id, audit.WorkflowUpdated, "UPDATE", func(tx store.Tx, w *flow.Workflow) error {
		nodes, err := secret.KeepMaskedNodes(def.Nodes, w.Nodes, s.nodeSchema)
		var me *secret.MaskedError
		if errors.As(err, &me) {
			return flow.Invalidf(flow.CodeInvalidBody, "%s", me.Error())
		} else if err != nil {
			return err
		}
		d := def // def stays as sent: a retried write starts from it again
		d.Nodes = nodes
		if err := w.Replace(d, s.now()); err != nil {
			return err
		}
		if err := flow.ValidateDefinition(&w.Definition); err != nil {
			return err
		}
		return s.checkWorkflowNodes(ctx, tx, w, false)
	})
}

// ActivateWorkflow validates the graph for running and makes it active.
func (s *Service) ActivateWorkflow(ctx context.Context, id uuid.UUID) (w *flow.Workflow, err error) {
	ctx, end := s.op(ctx, "command.workflow.activate", workflowAttr(id))
	defer end(&err)
	return s.change(ctx, id, audit.WorkflowActivated, "ACTIVATE", func(tx store.Tx, w *flow.Workflow) error {
		if err := flow.ValidateForActivation(&w.Definition); err != nil {
			return err
		}
		if err := s.checkWorkflowNodes(ctx, tx, w, true); err != nil {
			return err
		}
		if err := w.Transition(flow.StatusActive, s.now()); err != nil {
			return err
		}
		return s.activateRuntime(ctx, tx, w)
	})
}

// DeactivateWorkflow stops new executions of an active workflow.
func (s *Service) DeactivateWorkflow(ctx context.Context, id uuid.UUID) (w *flow.Workflow, err error) {
	ctx, end := s.op(ctx, "command.workflow.deactivate", workflowAttr(id))
	defer end(&err)
	return s.change(ctx, id, audit.WorkflowDeactivated, "DEACTIVATE", func(tx store.Tx, w *flow.Workflow) error {
		if err := w.Transition(flow.StatusInactive, s.now()); err != nil {
			return err
		}
		return tx.ReplaceWebhookRoutes(ctx, w.ID, nil)
	})
}

// DraftWorkflow moves an inactive workflow back to draft for editing. The
// telemetry page names no span for it; it follows the same convention.
func (s *Service) DraftWorkflow(ctx context.Context, id uuid.UUID) (w *flow.Workflow, err error) {
	ctx, end := s.op(ctx, "command.workflow.draft", workflowAttr(id))
	defer end(&err)
	return s.change(ctx, id, audit.WorkflowDrafted, "DRAFT", func(_ store.Tx, w *flow.Workflow) error {
		return w.Transition(flow.StatusDraft, s.now())
	})
}

// CloneWorkflow copies any workflow into a new draft named name.
func (s *Service) CloneWorkflow(ctx context.Context, id uuid.UUID, name string) (c *flow.Workflow, err error) {
	ctx, end := s.op(ctx, "command.workflow.clone", workflowAttr(id))
	defer end(&err)
	if err := flow.ValidateName(name); err != nil {
		return nil, err
	}
	err = s.catalogTx(ctx, func(_ context.Context, tx store.Tx) error {
		src, err := tx.GetWorkflow(ctx, id)
		if err != nil {
			return err
		}
		def := src.Definition // freshly read, so nothing is shared with another caller
		def.Name = name
		if err := flow.ValidateDefinition(&def); err != nil {
			return err
		}
		c = flow.NewWorkflow(s.newID(), def, s.now()) // sealed node data copies as is: same node ids
		if err := tx.CreateWorkflow(ctx, c); err != nil {
			return err
		}
		return s.record(ctx, tx, audit.WorkflowCloned, "CREATE", resWorkflow, c.ID.String(),
			map[string]any{"workflow.name": c.Name, "clonedFrom": id.String()})
	})
	if err != nil {
		return nil, err
	}
	return s.readable(c)
}

// DeleteWorkflow removes a draft or inactive workflow. Its executions stay.
func (s *Service) DeleteWorkflow(ctx context.Context, id uuid.UUID) (err error) {
	ctx, end := s.op(ctx, "command.workflow.delete", workflowAttr(id))
	defer end(&err)
	return s.writeTx(ctx, "workflow", func(tx store.Tx) error {
		w, err := tx.GetWorkflow(ctx, id)
		if err != nil {
			return err
		}
		if err := checkRevision(ctx, "workflow", w.Revision); err != nil {
			return err
		}
		if err := w.CheckDeletable(); err != nil {
			return err
		}
		if err := tx.DeleteWorkflow(ctx, id, w.Revision); err != nil {
			return err
		}
		return s.record(ctx, tx, audit.WorkflowDeleted, "DELETE", resWorkflow, id.String(),
			map[string]any{"workflow.id": id.String(), "workflow.name": w.Name})
	})
}

// change is read, modify, conditional write, in one transaction (retried
// when a blind write loses a race: writeTx).
func (s *Service) change(ctx context.Context, id uuid.UUID, event, action string,
	modify func(store.Tx, *flow.Workflow) error) (*flow.Workflow, error) {
	var w *flow.Workflow
	err := s.writeTx(ctx, "workflow", func(tx store.Tx) error {
		var err error
		if w, err = tx.GetWorkflow(ctx, id); err != nil {
			return err
		}
		prev := w.Revision
		if err := checkRevision(ctx, "workflow", prev); err != nil {
			return err
		}
		if _, err := s.opened(w); err != nil {
			return err
		}
		if err := modify(tx, w); err != nil {
			return err
		}
		sealed, err := s.sealed(w)
		if err != nil {
			return err
		}
		if err := tx.UpdateWorkflow(ctx, sealed, prev); err != nil {
			return err
		}
		return s.record(ctx, tx, event, action, resWorkflow, w.ID.String(),
			map[string]any{"workflow.name": w.Name, "revision": w.Revision, "status": string(w.Status)})
	})
	if err != nil {
		return nil, err
	}
	return s.masked(w), nil
}
