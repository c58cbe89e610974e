package expr

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"strconv"
	"strings"
)

// Operation is one raw transform item (a node's "transforms" entry).
type Operation struct {
	Operation string         `json:"operation"`
	Spec      map[string]any `json:"spec,omitempty"`
	Require   bool           `json:"require,omitempty"`
}

// Transform is a compiled pipeline of operations. It is immutable and safe
// to apply from many goroutines at once.
type Transform struct {
	steps []step
}

type step struct {
	where string // "transforms[1] (timestamp)", names the step in errors
	op    operation
}

// operation is one compiled step: it returns the new document without
// mutating doc (see writer).
type operation interface {
	apply(doc any) (any, error)
}

// SpecError is a mapping or operation list that does not compile. Where
// names the item, e.g. "inputMapping[1].target" or "transforms[2] (add_prefix)".
type SpecError struct {
	Where   string
	Message string
}

func (e *SpecError) Error() string { return e.Where + ": " + e.Message }

// ApplyError is a step that failed on a document. Path is the document path
// involved, when there is one.
type ApplyError struct {
	Where   string
	Path    string
	Message string
}

func (e *ApplyError) Error() string {
	if e.Path == "" {
		return e.Where + ": " + e.Message
	}
	return e.Where + " at " + e.Path + ": " + e.Message
}

// pathError is what operations return; the pipeline adds where it happened.
type pathError struct {
	path string
	msg  string
}

func (e *pathError) Error() string { return e.path + ": " + e.msg }

func failAt(p path, format string, args ...any) error {
	return &pathError{path: p.text, msg: fmt.Sprintf(format, args...)}
}

// Apply runs the pipeline on doc and returns the result. doc is never
// mutated; the result may share unchanged parts of it (treat both as
// read-only). A nil or empty Transform returns doc.
func (t *Transform) Apply(doc any) (any, error) {
	if t == nil {
		return doc, nil
	}
	for _, s := range t.steps {
		out, err := s.op.apply(doc)
		if err != nil {
			return nil, s.wrap(err)
		}
		doc = out
	}
	return doc, nil
}

func (s step) wrap(err error) error {
	var applyErr *ApplyError
	if errors.As(err, &applyErr) { // already placed (nested steps, mapped fields)
		return err
	}
	var pe *pathError
	if errors.As(err, &pe) {
		return &ApplyError{Where: s.where, Path: pe.path, Message: pe.msg}
	}
	return &ApplyError{Where: s.where, Message: err.Error()}
}

// ParseOperations decodes a node's "transforms" value as encoding/json
// produced it.
func ParseOperations(raw any) ([]Operation, error) { return ParseOperationsAs("transforms", raw) }

// ParseOperationsAs is ParseOperations with the field name used in errors.
func ParseOperationsAs(field string, raw any) ([]Operation, error) {
	items, err := objectList(field, raw)
	if err != nil {
		return nil, err
	}
	out := make([]Operation, 0, len(items))
	for i, item := range items {
		where := fmt.Sprintf("%s[%d]", field, i)
		name, ok := item["operation"].(string)
		if !ok || strings.TrimSpace(name) == "" {
			return nil, &SpecError{Where: where + ".operation", Message: "must be a non-empty string"}
		}
		op := Operation{Operation: name}
		if op.Spec, err = optionalObject(item, "spec", where); err != nil {
			return nil, err
		}
		if op.Require, err = optionalBool(item, "require", where); err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, nil
}

// CompileOperations compiles raw transform items, checking every spec.
func CompileOperations(ops []Operation) (*Transform, error) {
	return CompileOperationsAs("transforms", ops)
}

// CompileOperationsAs is CompileOperations with the field name used in errors.
func CompileOperationsAs(field string, ops []Operation) (*Transform, error) {
	return compileSteps(field, ops, 0, &writeBudget{})
}

// maxStepsDepth bounds nested "steps" operations.
const maxStepsDepth = 8

func compileSteps(field string, ops []Operation, depth int, writes *writeBudget) (*Transform, error) {
	t := &Transform{steps: make([]step, 0, len(ops))}
	for i, o := range ops {
		where := fmt.Sprintf("%s[%d] (%s)", field, i, o.Operation)
		op, err := compileOperation(o.Operation, spec{where: where, m: o.Spec, writes: writes}, o.Require, depth)
		if err != nil {
			return nil, err
		}
		t.steps = append(t.steps, step{where: where, op: op})
	}
	return t, nil
}

// compileOperation builds one operation by name (Kazaam's built-ins and
// Flowker's custom string operations).
func compileOperation(name string, s spec, require bool, depth int) (operation, error) {
	switch name {
	case "shift":
		return compileShift(s, require)
	case "concat":
		return compileConcat(s, require)
	case "coalesce":
		return compileCoalesce(s, require)
	case "extract":
		return compileExtract(s, require)
	case "default":
		return compileDefault(s)
	case "delete":
		return compileDelete(s, require)
	case "pass":
		return passOp{}, nil
	case "merge":
		return compileMerge(s, require)
	case "steps":
		return compileNestedSteps(s, require, depth)
	case "timestamp":
		return compileTimestamp(s, require)
	case "uuid":
		return compileUUID(s)
	case "remove_characters", "add_prefix", "add_suffix", "to_uppercase", "to_lowercase":
		return compileStringOp(name, s)
	}
	where, _, _ := strings.Cut(s.where, " (")
	return nil, &SpecError{Where: where, Message: fmt.Sprintf("unknown operation %q", name)}
}

// spec reads an operation's spec and reports problems at where.
type spec struct {
	where  string
	m      map[string]any
	writes *writeBudget // what the transform's written paths may make arrays grow to (see parse)
}

func (s spec) fail(format string, args ...any) error {
	return &SpecError{Where: s.where, Message: fmt.Sprintf(format, args...)}
}

// str returns a string entry; required ones must be non-empty.
func (s spec) str(key string, required bool) (string, error) {
	v, present := s.m[key]
	if !present && !required {
		return "", nil
	}
	str, ok := v.(string)
	if !ok || required && str == "" {
		return "", s.fail("spec.%s must be a non-empty string", key)
	}
	return str, nil
}

type pathUse uint8

const (
	readPath pathUse = iota // $ and wildcards allowed
	// editPath changes or removes only what exists (delete, the string
	// operations), so it never pads an array: wildcards allowed anywhere.
	editPath
	// writePath may create what is missing: wildcards allowed (every
	// element present), but no index after one (see paddedPerElement).
	writePath
	targetPath // a single place: no $, no wildcard
)

// parse parses a path found at spec location name (for messages; empty
// when where already names it).
func (s spec) parse(text, name string, use pathUse) (path, error) {
	p, err := parsePath(text)
	msg := ""
	switch {
	case err != nil:
		msg = err.Error()
	case use != readPath && p.whole():
		msg = "$ can only be read"
	case use == targetPath && p.wildcard:
		msg = "a wildcard [*] can only be read"
	case use == writePath && paddedPerElement(p):
		msg = "an index after a wildcard [*] cannot be written: it would pad an array in every element"
	case use != readPath && s.writes != nil && s.writes.spend(p):
		msg = fmt.Sprintf("the paths this transform writes make arrays %d slots long in all, more than %d: "+
			"a write pads an array with nulls up to its index", s.writes.total, maxWriteSlots)
	default:
		return p, nil
	}
	if name != "" {
		msg = name + ": " + msg
	}
	return path{}, s.fail("%s", msg)
}

// paddedPerElement reports whether p indexes an array after a wildcard:
// rows[*].pad[9999] pads one array per element of rows, as many as the
// document holds, where writeBudget counts the one path once (20 rows
// padded 200,000 slots; a 1 MiB body holds ~300,000 empty rows).
func paddedPerElement(p path) bool {
	wildcard := false
	for _, seg := range p.segs {
		switch {
		case seg.kind == segWildcard:
			wildcard = true
		case seg.kind == segIndex && wildcard:
			return true
		}
	}
	return false
}

// maxWriteSlots bounds the array slots a transform's written paths may
// create when it runs, all paths together: one a[n] pads a with up to n
// nulls, and x[10000][10000]… (or many a1[10000], a2[10000]…) would
// allocate gigabytes when the node runs.
const maxWriteSlots = 100_000

// writeBudget is what a transform's written paths may make the arrays they
// index grow to: per array (the path before its index), the largest index
// written into it plus one — six fields of rows[9000] pad rows once — and
// all arrays together at most maxWriteSlots.
type writeBudget struct {
	slots map[uint64]int // by the hash of the path before the index
	total int
}

// spend counts p's indexes and reports whether the budget is exceeded. An
// array is named by the hash of the path before its index, taken as the
// path is walked: rendering each prefix as text cost the square of the
// path's length (a 700 KB target exhausted the memory of a CI machine).
func (b *writeBudget) spend(p path) bool {
	var h maphash.Hash
	h.SetSeed(prefixSeed)
	for _, seg := range p.segs {
		if seg.kind == segIndex {
			if b.slots == nil {
				b.slots = map[uint64]int{}
			}
			array := h.Sum64()
			if n := seg.index + 1; n > b.slots[array] {
				b.total += n - b.slots[array]
				b.slots[array] = n
			}
			if b.total > maxWriteSlots {
				return true
			}
		}
		_ = h.WriteByte(byte(seg.kind))
		_, _ = h.WriteString(seg.key)
		_, _ = h.WriteString(strconv.Itoa(seg.index))
		_ = h.WriteByte(0)
	}
	return false
}

// prefixSeed seeds writeBudget's hashes: random, so no definition can aim
// two arrays at one count.
var prefixSeed = maphash.MakeSeed()

// pathEntry parses the path under key ("spec.path").
func (s spec) pathEntry(key string, use pathUse) (path, error) {
	text, err := s.str(key, true)
	if err != nil {
		return path{}, err
	}
	return s.parse(text, "spec."+key, use)
}

// keys returns the spec's keys sorted (all but skip), so keyed operations
// run in a stable order: "a" before "a.b".
func (s spec) keys(skip string) []string {
	out := make([]string, 0, len(s.m))
	for k := range s.m {
		if k != skip {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// keyed returns the sorted keys of a spec keyed by path, which must not be
// empty.
func (s spec) keyed(skip string) ([]string, error) {
	keys := s.keys(skip)
	if len(keys) == 0 {
		return nil, s.fail("spec must have at least one path entry")
	}
	return keys, nil
}

// pathList reads an array of path strings.
func (s spec) pathList(v any, name string, use pathUse) ([]path, error) {
	items, ok := v.([]any)
	if !ok || len(items) == 0 {
		return nil, s.fail("%s must be a non-empty array of paths", name)
	}
	out := make([]path, len(items))
	for i, item := range items {
		text, ok := item.(string)
		if !ok {
			return nil, s.fail("%s[%d] must be a path string", name, i)
		}
		p, err := s.parse(text, fmt.Sprintf("%s[%d]", name, i), use)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// objectList checks the []any-of-objects shape encoding/json produces.
func objectList(field string, raw any) ([]map[string]any, error) {
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case []map[string]any:
		return v, nil
	case []any:
		out := make([]map[string]any, len(v))
		for i, item := range v {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, &SpecError{Where: fmt.Sprintf("%s[%d]", field, i), Message: "must be an object"}
			}
			out[i] = m
		}
		return out, nil
	}
	return nil, &SpecError{Where: field, Message: "must be an array"}
}

func optionalObject(item map[string]any, key, where string) (map[string]any, error) {
	v, present := item[key]
	if !present || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &SpecError{Where: where + "." + key, Message: "must be an object"}
	}
	return m, nil
}

func optionalBool(item map[string]any, key, where string) (bool, error) {
	v, present := item[key]
	if !present || v == nil {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, &SpecError{Where: where + "." + key, Message: "must be a boolean"}
	}
	return b, nil
}
