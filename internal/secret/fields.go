package secret

import (
	"maps"
	"strings"
)

// reason says why a value is secret.
type reason int8

const (
	notSecret reason = iota
	byField          // its schema or its name says so, or it is a header value
	byURL            // only because it is a URL with user information
)

// leafFunc rewrites one value: a secret one (r != notSecret, any type) or
// a string the walker's visit accepts. path names its place (the
// authenticated data of a sealed value); stored is the value at the same
// place of a parallel document (KeepMasked), else nil. changed says
// whether out differs.
type leafFunc func(path string, v, stored any, r reason) (out any, changed bool, err error)

// walker rebuilds a document, copying only what changes. The path of a
// place is built only when a leaf is called (most strings are not).
type walker struct {
	leaf  leafFunc
	visit func(string) bool // which non-secret strings go to leaf (nil: all)
	safe  map[string]bool   // header names the document declares safe
	blind bool              // classify nothing (Open)
	root  string
	keys  []string // the place being walked: keys, "" for an array element
	// noPath: the leaf does not read its path (Redact, on every string of
	// every call a step makes): the path is not built for it.
	noPath bool
}

// leafHere calls the leaf for v, at the place being walked.
func (w *walker) leafHere(v, stored any, r reason) (any, bool, error) {
	path := ""
	if !w.noPath {
		path = w.path()
	}
	return w.leaf(path, v, stored, r)
}

func (w *walker) path() string {
	var b strings.Builder
	b.WriteString(w.root)
	for _, k := range w.keys {
		if k == "" {
			b.WriteString("[]")
		} else {
			b.WriteString(".")
			b.WriteString(k)
		}
	}
	return b.String()
}

func (w *walker) classify(key string, v any, node *schemaNode, declared, header bool) reason {
	if w.blind {
		return notSecret
	}
	switch {
	case header:
		if !SafeHeader(key) && !w.safe[strings.ToLower(strings.TrimSpace(key))] {
			return byField
		}
	case node != nil && node.secret:
		return byField
	case declared:
	case key != "" && IsSecretName(key):
		return byField
	}
	if s, ok := v.(string); ok && HasUserinfo(s) {
		return byURL
	}
	return notSecret
}

// value rewrites v, found under key (the last of w.keys). node is its
// schema (declared: a schema describes it); header: v is an entry of a
// header map.
func (w *walker) value(key string, v, stored any, node *schemaNode, declared, header bool) (any, bool, error) {
	if r := w.classify(key, v, node, declared, header); r != notSecret && v != nil {
		return w.leafHere(v, stored, r)
	}
	switch t := v.(type) {
	case map[string]any:
		sm, _ := stored.(map[string]any)
		return w.object(t, sm, node, !w.blind && isHeaders(key))
	case []any:
		sl, _ := stored.([]any)
		return w.array(t, sl, node)
	case string:
		if w.visit != nil && !w.visit(t) {
			return v, false, nil
		}
		return w.leafHere(v, stored, notSecret)
	}
	if m, ok := jsonShape(v); ok { // url.Values, http.Header: always rebuilt
		out, _, err := w.object(m, nil, node, !w.blind && isHeaders(key))
		return out, true, err
	}
	return v, false, nil
}

func (w *walker) object(m, stored map[string]any, node *schemaNode, headers bool) (any, bool, error) {
	var out map[string]any
	for k, x := range m {
		c, declared := node.child(k)
		w.keys = append(w.keys, k)
		nv, changed, err := w.value(k, x, stored[k], c, declared, headers)
		w.keys = w.keys[:len(w.keys)-1]
		if err != nil {
			return nil, false, err
		}
		if changed {
			if out == nil {
				out = maps.Clone(m)
			}
			out[k] = nv
		}
	}
	if out == nil {
		return m, false, nil
	}
	return out, true, nil
}

// array walks elements; the stored counterpart of an element is the one
// at the same index.
func (w *walker) array(l, stored []any, node *schemaNode) (any, bool, error) {
	var items *schemaNode
	if node != nil {
		items = node.items
	}
	var out []any
	for i, x := range l {
		var st any
		if i < len(stored) {
			st = stored[i]
		}
		w.keys = append(w.keys, "")
		nv, changed, err := w.value("", x, st, items, false, false)
		w.keys = w.keys[:len(w.keys)-1]
		if err != nil {
			return nil, false, err
		}
		if changed {
			if out == nil {
				out = append([]any(nil), l...)
			}
			out[i] = nv
		}
	}
	if out == nil {
		return l, false, nil
	}
	return out, true, nil
}

// doc walks a document's root object. The result shares what did not
// change with m; m itself is never modified.
func (w *walker) doc(m, stored map[string]any, root string, p Policy) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	if !w.blind {
		w.safe = declaredSafe(m)
	}
	w.root = root
	w.keys = make([]string, 0, 8)
	out, _, err := w.object(m, stored, p.root, false)
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

// Seal returns m with every secret value encrypted (see Policy). m is
// plaintext, as a client sent it (with what KeepMasked restored from the
// stored plaintext): a value that looks sealed, at a secret place or not,
// is sealed like any other string, so it reads back as sent. None is kept
// as a ciphertext of this box, even one that would open at this place:
// the authenticated data binds a ciphertext to its place, not to the row
// that holds it, so whoever could read one in the database (a backup)
// would have another row's secret opened for them wherever it is read
// back (found by a defect hunt). Every stored document is opened before
// it is changed and sealed again; nothing seals a stored one as it is.
// root names m in authenticated data.
func (b *Box) Seal(m map[string]any, root string, p Policy) (map[string]any, error) {
	w := walker{leaf: b.sealLeaf, visit: looksSealed}
	return w.doc(m, nil, root, p)
}

func looksSealed(s string) bool { return strings.HasPrefix(s, sealedPrefix) }

// sealLeaf seals a secret value, and a string that looks sealed wherever
// it is: Open opens every string that does.
func (b *Box) sealLeaf(path string, v, _ any, r reason) (any, bool, error) {
	if r == notSecret && !IsSealed(v) {
		return v, false, nil
	}
	out, err := b.sealValue(path, v)
	return out, true, err
}

// Open returns m with every sealed value decrypted, wherever it is: what
// was sealed under an earlier policy opens too.
func (b *Box) Open(m map[string]any, root string) (map[string]any, error) {
	w := walker{leaf: b.openLeaf, visit: looksSealed, blind: true}
	return w.doc(m, nil, root, Policy{})
}

func (b *Box) openLeaf(path string, v, _ any, _ reason) (any, bool, error) {
	s, ok := v.(string)
	if !ok || !IsSealed(s) {
		return v, false, nil
	}
	out, err := b.openValue(path, s)
	return out, true, err
}

// fullMask replaces short and non-string secrets.
const fullMask = "********"

// MaskValue renders a secret as the reference does: "****" and the last
// four characters of a string longer than four bytes, otherwise "********".
func MaskValue(v any) string {
	s, ok := v.(string)
	if !ok || len(s) <= 4 {
		return fullMask
	}
	return "****" + s[len(s)-4:]
}

// MaskURL renders a URL whose only secret is its user information:
// scheme://****@host/path. Other strings are returned as they are.
func MaskURL(s string) string {
	start, end, ok := userinfoAt(s)
	if !ok {
		return s
	}
	return s[:start] + "****" + s[end:]
}

// Mask returns the plaintext m with every secret value masked.
func Mask(m map[string]any, p Policy) map[string]any {
	w := walker{leaf: maskLeaf, visit: func(string) bool { return false }}
	out, _ := w.doc(m, nil, "", p)
	return out // the leaf never fails
}

func maskLeaf(_ string, v, _ any, r reason) (any, bool, error) {
	switch r {
	case byField:
		return MaskValue(v), true, nil
	case byURL:
		return MaskURL(v.(string)), true, nil
	}
	return v, false, nil
}

// KeepMasked returns the plaintext update in which every value that is
// the mask of the stored plaintext value at the same place is replaced by
// that stored value: a client that sends back what it read keeps the
// secret. A masked-looking secret with nothing matching stored behind it
// is a *MaskedError.
//
// A masked secret is not kept when the update sends the document's
// secrets somewhere else (DestinationsMoved): whoever may write a
// configuration but not read its secrets would have them sent to a host of
// their choosing.
func KeepMasked(update, stored map[string]any, p Policy) (map[string]any, error) {
	return keepMasked(update, stored, p, DestinationsMoved(update, stored))
}

func keepMasked(update, stored map[string]any, p Policy, moved bool) (map[string]any, error) {
	w := walker{leaf: func(path string, v, st any, r reason) (any, bool, error) {
		return keepLeaf(path, v, st, r, moved)
	}, visit: looksMasked}
	return w.doc(update, stored, "", p)
}

func keepLeaf(path string, v, stored any, r reason, moved bool) (any, bool, error) {
	s, ok := v.(string)
	if !ok || !looksMasked(s) {
		return v, false, nil
	}
	if stored != nil {
		old, isString := stored.(string)
		if MaskValue(stored) == s || isString && HasUserinfo(old) && MaskURL(old) == s {
			switch {
			case r == notSecret && (!isString || old != s):
				// Secret when stored, not in the update (a header just
				// declared safe): restoring it would show the secret.
				return nil, false, &MaskedError{Field: strings.TrimPrefix(path, "."), NoLongerSecret: true}
			case moved && r != notSecret:
				return nil, false, &MaskedError{Field: strings.TrimPrefix(path, "."), Moved: true}
			}
			return stored, true, nil
		}
	}
	if r != notSecret {
		return nil, false, &MaskedError{Field: strings.TrimPrefix(path, ".")}
	}
	return v, false, nil
}

func looksMasked(s string) bool {
	if strings.HasPrefix(s, "****") {
		return true
	}
	start, end, ok := userinfoAt(s)
	return ok && s[start:end] == "****"
}

// MaskedError says a masked value was sent where no matching secret is
// stored, or for a secret the update no longer keeps secret.
type MaskedError struct {
	Field          string
	NoLongerSecret bool // declared safe by the update: its value would be shown
	Moved          bool // the update sends the secrets to another URL
}

func (e *MaskedError) Error() string {
	if e.Moved {
		return e.Field + ": a masked value was sent while the update changes a URL the secrets are sent to; send the secret itself"
	}
	if e.NoLongerSecret {
		return e.Field + ": a masked value was sent for a secret the update no longer keeps secret (declared safe); send the value itself"
	}
	return e.Field + ": a masked value was sent but no matching secret is stored; send the secret itself"
}

// DestinationsMoved reports whether update names a URL stored does not, at
// the same place: a key ending in "url" (base_url, issuer_url, token_url,
// baseUrl) whose value differs, or is new. A URL sent back masked (its user
// information as ****) is the stored one.
func DestinationsMoved(update, stored map[string]any) bool {
	for k, v := range update {
		old := stored[k]
		switch x := v.(type) {
		case map[string]any:
			if isHeaders(k) { // what a call carries, not where it goes (X-Return-Url)
				continue
			}
			sm, _ := old.(map[string]any)
			if DestinationsMoved(x, sm) {
				return true
			}
		case string:
			if !strings.HasSuffix(strings.ToLower(k), "url") {
				continue
			}
			if was, _ := old.(string); x != was && x != MaskURL(was) {
				return true
			}
		}
	}
	return false
}
