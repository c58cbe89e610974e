package service

import (
	"context"

	"flowker/internal/catalog"
	"flowker/internal/flow"
)

// Catalog returns the static catalog, for the read-only catalog routes.
func (s *Service) Catalog() *catalog.Catalog { return s.catalog }

func (s *Service) template(id string) (*catalog.Template, error) {
	t, ok := s.catalog.Template(id)
	if !ok {
		return nil, flow.Errorf(flow.KindNotFound, "FLK-0240", "template not found: %s", id)
	}
	return t, nil
}

// ValidateTemplateParams checks params against a template's schema.
func (s *Service) ValidateTemplateParams(id string, params map[string]any) error {
	t, err := s.template(id)
	if err != nil {
		return err
	}
	if err := t.ValidateParams(params); err != nil {
		return flow.Invalidf("FLK-0242", "invalid params for template %s: %v", id, err)
	}
	return nil
}

// CreateWorkflowFromTemplate builds a draft from a template and creates it
// with every check a hand-written workflow gets.
func (s *Service) CreateWorkflowFromTemplate(ctx context.Context, id string, params map[string]any) (*flow.Workflow, error) {
	// templateId is a reference in the body, not the resource asked for:
	// 400 naming the field (the catalog routes' 404 is for their path).
	if id == "" {
		return nil, flow.Invalidf("FLK-0240", "templateId is required")
	}
	if _, ok := s.catalog.Template(id); !ok {
		return nil, flow.Invalidf("FLK-0240", "templateId: template not found: %s", id)
	}
	if err := s.ValidateTemplateParams(id, params); err != nil {
		return nil, err
	}
	t, _ := s.template(id)
	def, err := t.Build(params)
	if err != nil {
		return nil, flow.Invalidf("FLK-0243", "template %s could not be built: %v", id, err)
	}
	return s.CreateWorkflow(ctx, def)
}

// TemplateSchema returns the template's parameter schema with the active
// provider configurations offered as choices for its provider parameters.
func (s *Service) TemplateSchema(ctx context.Context, id string) (*catalog.Template, string, error) {
	t, err := s.template(id)
	if err != nil {
		return nil, "", err
	}
	choices := map[string][]catalog.Choice{}
	for _, pp := range t.ProviderParams {
		if choices[pp.ProviderID], err = s.activeProviderChoices(ctx, pp.ProviderID); err != nil {
			return nil, "", err
		}
	}
	schema, err := t.EnrichedSchema(choices)
	return t, schema, err
}
