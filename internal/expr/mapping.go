package expr

import (
	"errors"
	"fmt"
	"maps"
)

// FieldMapping is one inputMapping/outputMapping entry.
type FieldMapping struct {
	Source         string          `json:"source"` // path in the input document
	Target         string          `json:"target"` // path in the output document
	Required       bool            `json:"required,omitempty"`
	Transformation *Transformation `json:"transformation,omitempty"`
}

// Transformation is an operation applied to a mapping's target after the
// shift.
type Transformation struct {
	Type   string         `json:"type"`
	Config map[string]any `json:"config,omitempty"`
}

// ParseMappings decodes a mapping list as encoding/json produced it. Errors
// name the item as "mapping[i]"; ParseMappingsAs names the field.
func ParseMappings(raw any) ([]FieldMapping, error) { return ParseMappingsAs("mapping", raw) }

// ParseMappingsAs is ParseMappings with the field name used in errors
// ("inputMapping", "outputMapping").
func ParseMappingsAs(field string, raw any) ([]FieldMapping, error) {
	if list, ok := raw.([]FieldMapping); ok {
		return list, nil
	}
	items, err := objectList(field, raw)
	if err != nil {
		return nil, err
	}
	out := make([]FieldMapping, 0, len(items))
	for i, item := range items {
		where := fmt.Sprintf("%s[%d]", field, i)
		var m FieldMapping
		if m.Source, err = nonEmptyString(item, "source", where); err != nil {
			return nil, err
		}
		if m.Target, err = nonEmptyString(item, "target", where); err != nil {
			return nil, err
		}
		if m.Required, err = optionalBool(item, "required", where); err != nil {
			return nil, err
		}
		tr, err := optionalObject(item, "transformation", where)
		if err != nil {
			return nil, err
		}
		if tr != nil {
			m.Transformation = &Transformation{}
			if m.Transformation.Type, err = nonEmptyString(tr, "type", where+".transformation"); err != nil {
				return nil, err
			}
			if m.Transformation.Config, err = optionalObject(tr, "config", where+".transformation"); err != nil {
				return nil, err
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func nonEmptyString(item map[string]any, key, where string) (string, error) {
	s, ok := item[key].(string)
	if !ok || s == "" {
		return "", &SpecError{Where: where + "." + key, Message: "must be a non-empty string"}
	}
	return s, nil
}

// CompileMappings compiles a mapping list: one shift building the targets
// from the sources, then one operation per transformation, in list order.
func CompileMappings(m []FieldMapping) (*Transform, error) { return CompileMappingsAs("mapping", m) }

// CompileMappingsAs is CompileMappings with the field name used in errors.
func CompileMappingsAs(field string, m []FieldMapping) (*Transform, error) {
	shift := &mappingShiftOp{fields: make([]mappedField, 0, len(m))}
	writes := &writeBudget{} // see spec.writes
	t := &Transform{steps: []step{{where: field, op: shift}}}
	for i, fm := range m {
		where := fmt.Sprintf("%s[%d]", field, i)
		if fm.Source == "" {
			return nil, &SpecError{Where: where + ".source", Message: "must be a non-empty string"}
		}
		if fm.Target == "" {
			return nil, &SpecError{Where: where + ".target", Message: "must be a non-empty string"}
		}
		source, err := spec{where: where + ".source", writes: writes}.parse(fm.Source, "", readPath)
		if err != nil {
			return nil, err
		}
		target, err := spec{where: where + ".target", writes: writes}.parse(fm.Target, "", targetPath)
		if err != nil {
			return nil, err
		}
		shift.fields = append(shift.fields, mappedField{
			where:    fmt.Sprintf("%s (%s → %s)", where, fm.Source, fm.Target),
			source:   source,
			target:   target,
			required: fm.Required,
		})
		if fm.Transformation == nil {
			continue
		}
		trWhere := where + ".transformation"
		if fm.Transformation.Type == "" {
			return nil, &SpecError{Where: trWhere + ".type", Message: "must be a non-empty string"}
		}
		trWhere += " (" + fm.Transformation.Type + ")"
		op, err := compileOperation(fm.Transformation.Type,
			spec{where: trWhere, m: transformationSpec(fm.Target, fm.Transformation), writes: writes}, false, 0)
		if err != nil {
			return nil, err
		}
		t.steps = append(t.steps, step{where: trWhere, op: op})
	}
	return t, nil
}

// transformationSpec builds a mapping transformation's spec: {path: target}
// merged with config (config wins). Operations keyed by path take config as
// their whole spec, except that one timestamp or uuid entry ({inputFormat,
// outputFormat} / {version, …}) applies to the target.
func transformationSpec(target string, tr *Transformation) map[string]any {
	switch tr.Type {
	case "timestamp", "uuid":
		if isSingleEntry(tr) {
			return map[string]any{target: tr.Config}
		}
		return tr.Config
	case "shift", "coalesce", "default", "merge":
		return tr.Config
	}
	out := make(map[string]any, len(tr.Config)+1)
	out["path"] = target
	maps.Copy(out, tr.Config)
	return out
}

// isSingleEntry tells a per-target config from a spec keyed by path: in a
// keyed spec every value is an object, never a format string or a version.
func isSingleEntry(tr *Transformation) bool {
	keys := []string{"version"}
	if tr.Type == "timestamp" {
		keys = []string{"inputFormat", "outputFormat"}
	}
	for _, k := range keys {
		if v, present := tr.Config[k]; present {
			if _, isObject := v.(map[string]any); !isObject {
				return true
			}
		}
	}
	return false
}

type mappedField struct {
	where          string // "inputMapping[2] (workflow.customer.cpf → document)"
	source, target path
	required       bool
}

// mappingShiftOp is a mapping list's shift: a new document with only the
// targets, where "required" applies to each field on its own.
type mappingShiftOp struct{ fields []mappedField }

func (o *mappingShiftOp) apply(doc any) (any, error) {
	var w writer
	var out any = w.adopt(make(map[string]any, len(o.fields)))
	for _, f := range o.fields {
		v, found := lookup(doc, f.source, f.required)
		if f.required && (!found || v == nil) {
			return nil, &ApplyError{Where: f.where, Message: "required source is missing"}
		}
		var err error
		if out, err = w.edit(out, f.target, setTo(v)); err != nil {
			return nil, &ApplyError{Where: f.where, Path: f.target.text, Message: pathMessage(err)}
		}
	}
	return out, nil
}

// pathMessage drops the path from a pathError, which ApplyError carries.
func pathMessage(err error) string {
	var pe *pathError
	if errors.As(err, &pe) {
		return pe.msg
	}
	return err.Error()
}
