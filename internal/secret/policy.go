package secret

import (
	"encoding/json"
	"strings"
	"sync"
)

// Policy decides which values of one document (a provider configuration,
// a node's data, an executor's authentication) are secret. Where its JSON
// Schema lists a field among its properties, the schema decides: a
// property marked "writeOnly": true is secret, any other is not.
// Elsewhere (no schema at all, a free-form object such as an HTTP body, a
// key the schema does not list or matches only by additionalProperties),
// the field's name decides (IsSecretName), or a writeOnly
// additionalProperties. Whatever the schema says, every header value not
// declared safe and every URL with user information are secret too.
//
// The zero Policy has no schema: names decide everywhere.
type Policy struct{ root *schemaNode }

// schemaNode is what a schema says of one place of a document.
type schemaNode struct {
	secret     bool                   // writeOnly
	props      map[string]*schemaNode // declared properties (all subschemas merged)
	additional *schemaNode            // additionalProperties, when a schema
	items      *schemaNode            // items, when a schema
}

// child is the schema of key in an object described by n; declared is
// true only when n lists key among its properties. A key matched by
// additionalProperties is not declared: that schema describes any key, so
// names still decide there (a query parameter named api_key), unless it
// is writeOnly itself (every value secret).
func (n *schemaNode) child(key string) (c *schemaNode, declared bool) {
	if n == nil {
		return nil, false
	}
	if c, ok := n.props[key]; ok {
		return c, true
	}
	return n.additional, false
}

// Sub is the policy of the object at key below p's root (e.g. "auth"), or
// the zero Policy when p's schema does not describe it.
func (p Policy) Sub(key string) Policy {
	c, _ := p.root.child(key)
	return Policy{root: c}
}

// policies caches parsed schemas: the catalog's are static and few.
var policies sync.Map // string(schema) → Policy

// SchemaPolicy is the policy of documents described by a JSON Schema
// (draft 2020-12; local "$ref"s into "$defs" or "definitions" are
// followed). A schema that does not parse gives the zero Policy.
func SchemaPolicy(schema []byte) Policy {
	if len(schema) == 0 {
		return Policy{}
	}
	if p, ok := policies.Load(string(schema)); ok {
		return p.(Policy)
	}
	var doc map[string]any
	if err := json.Unmarshal(schema, &doc); err != nil {
		return Policy{}
	}
	b := &schemaBuilder{doc: doc, active: map[string]bool{}}
	n := &schemaNode{}
	b.merge(n, doc, 0)
	p := Policy{root: n}
	policies.Store(string(schema), p)
	return p
}

type schemaBuilder struct {
	doc    map[string]any
	active map[string]bool // $refs being expanded: a recursive one stops there
}

// maxSchemaDepth bounds nesting of combinators, against pathological input.
const maxSchemaDepth = 64

// merge adds what schema s says into n: its writeOnly, properties,
// additionalProperties and items, and those of every subschema that
// applies in some case (allOf, anyOf, oneOf, if/then/else, $ref).
func (b *schemaBuilder) merge(n *schemaNode, s map[string]any, depth int) {
	if depth > maxSchemaDepth {
		return
	}
	if s["writeOnly"] == true {
		n.secret = true
	}
	if props, ok := s["properties"].(map[string]any); ok {
		if n.props == nil {
			n.props = map[string]*schemaNode{}
		}
		for name, raw := range props {
			c := n.props[name]
			if c == nil {
				c = &schemaNode{}
				n.props[name] = c
			}
			if sub, ok := raw.(map[string]any); ok {
				b.merge(c, sub, depth+1)
			}
		}
	}
	if sub, ok := s["additionalProperties"].(map[string]any); ok {
		if n.additional == nil {
			n.additional = &schemaNode{}
		}
		b.merge(n.additional, sub, depth+1)
	}
	if sub, ok := s["items"].(map[string]any); ok {
		if n.items == nil {
			n.items = &schemaNode{}
		}
		b.merge(n.items, sub, depth+1)
	}
	for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
		list, _ := s[kw].([]any)
		for _, x := range list {
			if sub, ok := x.(map[string]any); ok {
				b.merge(n, sub, depth+1)
			}
		}
	}
	for _, kw := range []string{"if", "then", "else"} {
		if sub, ok := s[kw].(map[string]any); ok {
			b.merge(n, sub, depth+1)
		}
	}
	if ref, ok := s["$ref"].(string); ok && !b.active[ref] {
		if target := b.resolve(ref); target != nil {
			b.active[ref] = true
			b.merge(n, target, depth+1)
			delete(b.active, ref)
		}
	}
}

// resolve finds a local reference (#/$defs/name, #/definitions/name).
func (b *schemaBuilder) resolve(ref string) map[string]any {
	for _, prefix := range []string{"#/$defs/", "#/definitions/"} {
		name, ok := strings.CutPrefix(ref, prefix)
		if !ok {
			continue
		}
		defs, _ := b.doc[strings.TrimSuffix(strings.TrimPrefix(prefix, "#/"), "/")].(map[string]any)
		target, _ := defs[name].(map[string]any)
		return target
	}
	return nil
}
