package plan

import (
	"fmt"
	"regexp"
	"strings"

	"flowker/internal/expr"
)

// Template is a set_output value in which strings may reference the
// execution context: a string that is exactly "{{ path }}" becomes the
// value at path (any JSON type); "{{ path }}" inside a longer string is
// replaced by the value's text. Paths are the mapping paths
// (workflow.amount, tracer-validate.body.decision, items[0].id).
type Template struct {
	value any
	refs  map[string]*expr.Transform // path → compiled lookup
}

var refPattern = regexp.MustCompile(`\{\{\s*([^{}]+?)\s*\}\}`)

// CompileTemplate compiles every reference in v.
func CompileTemplate(v map[string]any, _ []string) (*Template, error) {
	t := &Template{value: v, refs: map[string]*expr.Transform{}}
	var walk func(x any) error
	walk = func(x any) error {
		switch y := x.(type) {
		case map[string]any:
			for _, z := range y {
				if err := walk(z); err != nil {
					return err
				}
			}
		case []any:
			for _, z := range y {
				if err := walk(z); err != nil {
					return err
				}
			}
		case string:
			for _, m := range refPattern.FindAllStringSubmatch(y, -1) {
				if _, ok := t.refs[m[1]]; ok {
					continue
				}
				tr, err := expr.CompileMappings([]expr.FieldMapping{{Source: m[1], Target: "v"}})
				if err != nil {
					return fmt.Errorf("reference {{ %s }}: %w", m[1], err)
				}
				t.refs[m[1]] = tr
			}
		}
		return nil
	}
	return t, walk(v)
}

// Render resolves the references against vars; a missing reference is null.
func (t *Template) Render(vars map[string]any) (map[string]any, error) {
	out, err := t.render(t.value, vars)
	if err != nil {
		return nil, err
	}
	m, _ := out.(map[string]any)
	return m, nil
}

func (t *Template) render(x any, vars map[string]any) (any, error) {
	switch y := x.(type) {
	case map[string]any:
		out := make(map[string]any, len(y))
		for k, z := range y {
			v, err := t.render(z, vars)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case []any:
		out := make([]any, len(y))
		for i, z := range y {
			v, err := t.render(z, vars)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case string:
		if m := refPattern.FindStringSubmatch(y); m != nil && m[0] == strings.TrimSpace(y) {
			return t.lookup(m[1], vars)
		}
		var firstErr error
		s := refPattern.ReplaceAllStringFunc(y, func(ref string) string {
			v, err := t.lookup(refPattern.FindStringSubmatch(ref)[1], vars)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			return expr.Text(v)
		})
		return s, firstErr
	}
	return x, nil
}

func (t *Template) lookup(path string, vars map[string]any) (any, error) {
	out, err := t.refs[path].Apply(vars)
	if err != nil {
		return nil, err
	}
	m, _ := out.(map[string]any)
	return m["v"], nil
}
