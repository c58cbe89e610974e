package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// ValidationError says why a value does not satisfy a schema. It reports one
// failure: the most specific one (deepest instance location; ties broken by
// location, then message, so the result is deterministic).
type ValidationError struct {
	// Path is the JSON pointer of the failing value ("" = the whole value),
	// e.g. "/auth/client_id".
	Path string
	// Message is human text, e.g. "missing property 'api_key'" or
	// "'x' is not valid 'uuid'".
	Message string
}

// Error renders "at <path>: <message>", or just the message at the root.
func (e *ValidationError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return "at " + e.Path + ": " + e.Message
}

// schemaURL names the single resource of every compilation; schemas are
// self-contained, so nothing else is ever loaded.
const schemaURL = "mem:///flowker/catalog/schema.json"

type compiled struct {
	once   sync.Once
	schema *jsonschema.Schema
	err    error
}

// compiledSchemas caches compilations by schema text, so each distinct
// schema is compiled once however many values carry it.
var compiledSchemas sync.Map // string → *compiled

// compile returns the compiled form of a draft 2020-12 schema, with format
// assertions on.
func compile(schema json.RawMessage) (*jsonschema.Schema, error) {
	v, _ := compiledSchemas.LoadOrStore(string(schema), &compiled{})
	c := v.(*compiled)
	c.once.Do(func() { c.schema, c.err = compileNow(schema) })
	return c.schema, c.err
}

func compileNow(schema json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(jsonschema.SchemeURLLoader{}) // no file or network access for $ref
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	return sch, nil
}

// validate checks v against schema. A nil map is an empty object.
func validate(schema json.RawMessage, v map[string]any) error {
	sch, err := compile(schema)
	if err != nil {
		return err
	}
	inst, err := toInstance(v)
	if err != nil {
		return &ValidationError{Message: "value is not representable as JSON: " + err.Error()}
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("validate: %w", err)
	}
	return fromSchemaError(ve, inst)
}

// toInstance round-trips v through JSON so that whatever the caller built
// (float64 or int numbers, map[string]string, []string, structs...) reaches
// the validator in the shape it understands, with json.Number numbers.
func toInstance(v map[string]any) (any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// fromSchemaError picks the most specific leaf of the library's error tree
// for instance inst.
func fromSchemaError(ve *jsonschema.ValidationError, inst any) *ValidationError {
	var best *ValidationError
	bestDepth := -1
	for _, leaf := range leaves(ve, nil) {
		cand := &ValidationError{Path: pointer(leaf.InstanceLocation), Message: message(leaf)}
		if pn, ok := leaf.ErrorKind.(*kind.PropertyNames); ok {
			// jsonschema/v6 v6.0.3 aliases this error's location to a buffer
			// that later siblings overwrite; only its length is reliable.
			cand.Path = locateKey(inst, len(leaf.InstanceLocation), pn.Property)
		}
		depth := len(leaf.InstanceLocation)
		if best == nil || depth > bestDepth ||
			depth == bestDepth && (cand.Path < best.Path || cand.Path == best.Path && cand.Message < best.Message) {
			best, bestDepth = cand, depth
		}
	}
	if best == nil { // cannot happen: a failed validation has at least one leaf
		return &ValidationError{Message: "value does not match the schema"}
	}
	return best
}

// leaves collects the errors without causes. An anyOf/oneOf failure is a
// leaf itself: the reasons each alternative failed would only mislead. So is
// a propertyNames failure, whose causes are located within the name.
func leaves(e *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf, *kind.PropertyNames:
		return append(out, e)
	}
	if len(e.Causes) == 0 {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = leaves(c, out)
	}
	return out
}

// message renders one error kind without its location.
func message(e *jsonschema.ValidationError) string {
	switch k := e.ErrorKind.(type) {
	case *kind.Format:
		return fmt.Sprintf("%s is not valid %s", display(k.Got), quote(k.Want))
	case *kind.AnyOf:
		return "value does not match any of the allowed alternatives"
	case *kind.OneOf:
		if len(k.Subschemas) == 0 {
			return "value does not match any of the allowed alternatives"
		}
		return "value matches more than one of the allowed alternatives"
	case *kind.PropertyNames:
		msg := "invalid propertyName " + quote(k.Property)
		if len(e.Causes) > 0 {
			msg += ": " + fromSchemaError(&jsonschema.ValidationError{ErrorKind: &kind.Group{}, Causes: e.Causes}, nil).Message
		}
		return msg
	}
	// The library renders a located error as "at '<ptr>': <text>"; render
	// this kind alone at the root location and keep the text.
	s := (&jsonschema.ValidationError{ErrorKind: e.ErrorKind}).Error()
	return strings.TrimPrefix(s, "at '': ")
}

// locateKey returns the JSON pointer of the object at depth within v that
// has property key (the first in pointer order if several do, "" if none).
func locateKey(v any, depth int, key string) string {
	var found []string
	var walk func(v any, loc []string)
	walk = func(v any, loc []string) {
		if len(loc) == depth {
			if m, ok := v.(map[string]any); ok {
				if _, ok := m[key]; ok {
					found = append(found, pointer(loc))
				}
			}
			return
		}
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				walk(c, append(slices.Clip(loc), k))
			}
		case []any:
			for i, c := range t {
				walk(c, append(slices.Clip(loc), strconv.Itoa(i)))
			}
		}
	}
	walk(v, nil)
	if len(found) == 0 {
		return ""
	}
	return slices.Min(found)
}

// pointer encodes instance-location tokens as a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		sb.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return sb.String()
}

// quote renders s in single quotes, as the library's messages do.
func quote(s string) string {
	q := fmt.Sprintf("%q", s)
	q = strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
	return "'" + strings.ReplaceAll(q, `'`, `\'`) + "'"
}

func display(v any) string {
	switch v := v.(type) {
	case string:
		return quote(v)
	case []any, map[string]any:
		return "value"
	default:
		return fmt.Sprint(v)
	}
}

// secretKeys lists the property names whose schema says "writeOnly": true,
// anywhere in schema.
func secretKeys(schema json.RawMessage) []string {
	var doc any
	if err := json.Unmarshal(schema, &doc); err != nil {
		return []string{}
	}
	set := map[string]bool{}
	walkSchema(doc, func(name string, prop map[string]any) {
		if prop["writeOnly"] == true {
			set[name] = true
		}
	})
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Keywords whose values are subschemas (draft 2020-12, plus the older
// "definitions").
var (
	schemaKeywords = []string{"additionalProperties", "items", "contains", "not", "if", "then", "else",
		"propertyNames", "unevaluatedProperties", "unevaluatedItems", "contentSchema"}
	schemaListKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
	schemaMapKeywords  = []string{"$defs", "definitions", "patternProperties", "dependentSchemas"}
)

// walkSchema calls visit for every entry of every "properties" keyword in
// schema and its subschemas.
func walkSchema(schema any, visit func(name string, prop map[string]any)) {
	m, ok := schema.(map[string]any)
	if !ok {
		return
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for name, p := range props {
			if pm, ok := p.(map[string]any); ok {
				visit(name, pm)
			}
			walkSchema(p, visit)
		}
	}
	for _, kw := range schemaKeywords {
		walkSchema(m[kw], visit)
	}
	for _, kw := range schemaListKeywords {
		if list, ok := m[kw].([]any); ok {
			for _, s := range list {
				walkSchema(s, visit)
			}
		}
	}
	for _, kw := range schemaMapKeywords {
		if sub, ok := m[kw].(map[string]any); ok {
			for _, s := range sub {
				walkSchema(s, visit)
			}
		}
	}
}
