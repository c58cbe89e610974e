package expr

import (
	"fmt"
	"strings"
)

// Kazaam's structural operations: shift, concat, coalesce, extract,
// default, delete, pass, merge and steps.

// read looks p up; a missing path is an error when required.
func read(doc any, p path, required bool) (any, bool, error) {
	v, ok := lookup(doc, p, required)
	if !ok && required {
		return nil, false, failAt(p, "required path is missing")
	}
	return v, ok, nil
}

type shiftEntry struct {
	target  path
	sources []path
	list    bool // the spec gave an array of sources: the value is an array
}

// shiftOp builds a new document holding only the spec's targets.
type shiftOp struct {
	entries []shiftEntry
	require bool
}

func compileShift(s spec, require bool) (operation, error) {
	keys, err := s.keyed("")
	if err != nil {
		return nil, err
	}
	op := &shiftOp{require: require}
	for _, key := range keys {
		target, err := s.parse(key, "target "+key, targetPath)
		if err != nil {
			return nil, err
		}
		e := shiftEntry{target: target}
		switch v := s.m[key].(type) {
		case string:
			src, err := s.parse(v, "spec."+key, readPath)
			if err != nil {
				return nil, err
			}
			e.sources = []path{src}
		case []any:
			if e.sources, err = s.pathList(v, "spec."+key, readPath); err != nil {
				return nil, err
			}
			e.list = true
		default:
			return nil, s.fail("spec.%s must be a source path or an array of source paths", key)
		}
		op.entries = append(op.entries, e)
	}
	return op, nil
}

func (o *shiftOp) apply(doc any) (any, error) {
	var w writer
	var out any = w.adopt(make(map[string]any, len(o.entries)))
	for _, e := range o.entries {
		var v any
		if e.list {
			values := make([]any, len(e.sources))
			for i, src := range e.sources {
				x, _, err := read(doc, src, o.require)
				if err != nil {
					return nil, err
				}
				values[i] = x
			}
			v = values
		} else {
			x, _, err := read(doc, e.sources[0], o.require)
			if err != nil {
				return nil, err
			}
			v = x
		}
		var err error
		if out, err = w.edit(out, e.target, setTo(v)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type concatSource struct {
	path    path
	literal string
	isPath  bool
}

// concatOp joins values and literals into one string at a target.
type concatOp struct {
	sources []concatSource
	target  path
	delim   string
	require bool
}

func compileConcat(s spec, require bool) (operation, error) {
	items, ok := s.m["sources"].([]any)
	if !ok || len(items) == 0 {
		return nil, s.fail("spec.sources must be a non-empty array of {path} or {value}")
	}
	op := &concatOp{require: require}
	for i, item := range items {
		m, _ := item.(map[string]any)
		if v, ok := m["value"]; ok {
			op.sources = append(op.sources, concatSource{literal: render(v)})
			continue
		}
		text, ok := m["path"].(string)
		if !ok {
			return nil, s.fail("spec.sources[%d] must be {\"path\": string} or {\"value\": …}", i)
		}
		p, err := s.parse(text, fmt.Sprintf("spec.sources[%d].path", i), readPath)
		if err != nil {
			return nil, err
		}
		op.sources = append(op.sources, concatSource{path: p, isPath: true})
	}
	var err error
	if op.target, err = s.pathEntry("targetPath", writePath); err != nil {
		return nil, err
	}
	if op.delim, err = s.str("delim", false); err != nil {
		return nil, err
	}
	return op, nil
}

func (o *concatOp) apply(doc any) (any, error) {
	var b strings.Builder
	for i, src := range o.sources {
		if i > 0 {
			b.WriteString(o.delim)
		}
		if !src.isPath {
			b.WriteString(src.literal)
			continue
		}
		v, _, err := read(doc, src.path, o.require)
		if err != nil {
			return nil, err
		}
		b.WriteString(render(v))
	}
	var w writer
	out, err := w.edit(doc, o.target, setTo(b.String()))
	return out, err
}

type coalesceEntry struct {
	target     path
	candidates []path
}

// coalesceOp writes the first present, non-null, non-ignored candidate.
type coalesceOp struct {
	entries []coalesceEntry
	ignore  []any
	require bool
}

func compileCoalesce(s spec, require bool) (operation, error) {
	keys, err := s.keyed("ignore")
	if err != nil {
		return nil, err
	}
	op := &coalesceOp{require: require}
	if v, present := s.m["ignore"]; present {
		ignore, isList := v.([]any)
		if !isList {
			return nil, s.fail("spec.ignore must be an array of values")
		}
		op.ignore = DeepCopy(ignore).([]any) // the caller's spec may change later
	}
	for _, key := range keys {
		target, err := s.parse(key, "target "+key, writePath)
		if err != nil {
			return nil, err
		}
		candidates, err := s.pathList(s.m[key], "spec."+key, readPath)
		if err != nil {
			return nil, err
		}
		op.entries = append(op.entries, coalesceEntry{target: target, candidates: candidates})
	}
	return op, nil
}

func (o *coalesceOp) apply(doc any) (any, error) {
	for _, e := range o.entries {
		v, found := o.first(doc, e.candidates)
		if !found {
			if o.require {
				return nil, failAt(e.target, "no candidate path has a value")
			}
			continue
		}
		var w writer // a fresh writer: v comes from the document (see writer)
		var err error
		if doc, err = w.edit(doc, e.target, setTo(v)); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func (o *coalesceOp) first(doc any, candidates []path) (any, bool) {
	for _, c := range candidates {
		v, ok := lookup(doc, c, false)
		if ok && v != nil && !o.ignored(v) {
			return v, true
		}
	}
	return nil, false
}

func (o *coalesceOp) ignored(v any) bool {
	for _, ig := range o.ignore {
		if jsonEqual(v, ig) {
			return true
		}
	}
	return false
}

// extractOp replaces the document with the value at a path.
type extractOp struct {
	path    path
	require bool
}

func compileExtract(s spec, require bool) (operation, error) {
	p, err := s.pathEntry("path", readPath)
	if err != nil {
		return nil, err
	}
	return &extractOp{path: p, require: require}, nil
}

func (o *extractOp) apply(doc any) (any, error) {
	v, _, err := read(doc, o.path, o.require)
	return v, err
}

type literalEntry struct {
	path  path
	value any
}

// defaultOp writes literal values (Kazaam's default overwrites).
type defaultOp struct{ entries []literalEntry }

func compileDefault(s spec) (operation, error) {
	keys, err := s.keyed("")
	if err != nil {
		return nil, err
	}
	op := &defaultOp{}
	for _, key := range keys {
		p, err := s.parse(key, "target "+key, writePath)
		if err != nil {
			return nil, err
		}
		// Copied so that later changes to the caller's spec cannot reach it.
		op.entries = append(op.entries, literalEntry{path: p, value: DeepCopy(s.m[key])})
	}
	return op, nil
}

func (o *defaultOp) apply(doc any) (any, error) {
	var w writer
	var err error
	for _, e := range o.entries {
		// A compiled literal is shared by every Apply: hand out a copy per
		// value written (a wildcard writes several).
		value := e.value
		if doc, err = w.edit(doc, e.path, func(any, bool) (any, change, error) {
			return DeepCopy(value), replace, nil
		}); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// deleteOp removes keys and array elements.
type deleteOp struct {
	paths   []path
	require bool
}

func compileDelete(s spec, require bool) (operation, error) {
	paths, err := s.pathList(s.m["paths"], "spec.paths", editPath)
	if err != nil {
		return nil, err
	}
	return &deleteOp{paths: paths, require: require}, nil
}

func (o *deleteOp) apply(doc any) (any, error) {
	var w writer
	for _, p := range o.paths {
		if _, _, err := read(doc, p, o.require); err != nil {
			return nil, err
		}
		var err error
		if doc, err = w.edit(doc, p, deleteIfPresent); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

type passOp struct{}

func (passOp) apply(doc any) (any, error) { return doc, nil }

type mergeEntry struct {
	target  path
	sources []path
}

// mergeOp shallow-merges objects, in order, over the target object.
type mergeOp struct {
	entries []mergeEntry
	require bool
}

func compileMerge(s spec, require bool) (operation, error) {
	keys, err := s.keyed("")
	if err != nil {
		return nil, err
	}
	op := &mergeOp{require: require}
	for _, key := range keys {
		target, err := s.parse(key, "target "+key, targetPath)
		if err != nil {
			return nil, err
		}
		sources, err := s.pathList(s.m[key], "spec."+key, readPath)
		if err != nil {
			return nil, err
		}
		op.entries = append(op.entries, mergeEntry{target: target, sources: sources})
	}
	return op, nil
}

func (o *mergeOp) apply(doc any) (any, error) {
	for _, e := range o.entries {
		merged := map[string]any{}
		if base, ok := lookup(doc, e.target, false); ok {
			if m, isObject := base.(map[string]any); isObject {
				for k, v := range m {
					merged[k] = v
				}
			}
		}
		for _, src := range e.sources {
			v, _, err := read(doc, src, o.require)
			if err != nil {
				return nil, err
			}
			switch v := v.(type) {
			case nil:
			case map[string]any:
				for k, x := range v {
					merged[k] = x
				}
			default:
				return nil, failAt(src, "is %s, not an object", typeName(v))
			}
		}
		var w writer // a fresh writer: merged holds document values
		var err error
		if doc, err = w.edit(doc, e.target, setTo(merged)); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// stepsOp runs a nested pipeline.
type stepsOp struct{ inner *Transform }

func compileNestedSteps(s spec, require bool, depth int) (operation, error) {
	if depth >= maxStepsDepth {
		return nil, s.fail("steps nested deeper than %d", maxStepsDepth)
	}
	items, ok := s.m["steps"].([]any)
	if !ok || len(items) == 0 {
		return nil, s.fail("spec.steps must be a non-empty array of operations")
	}
	ops := make([]Operation, len(items))
	for i, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, s.fail("spec.steps[%d] must be an object", i)
		}
		name, named := m["operation"].(string)
		if !named { // Kazaam's form: each step is a shift spec
			ops[i] = Operation{Operation: "shift", Spec: m, Require: require}
			continue
		}
		inner, _ := m["spec"].(map[string]any)
		req, _ := m["require"].(bool)
		ops[i] = Operation{Operation: name, Spec: inner, Require: req}
	}
	where, _, _ := strings.Cut(s.where, " (")
	inner, err := compileSteps(where+".steps", ops, depth+1, s.writes)
	if err != nil {
		return nil, err
	}
	return &stepsOp{inner: inner}, nil
}

func (o *stepsOp) apply(doc any) (any, error) { return o.inner.Apply(doc) }
