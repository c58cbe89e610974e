package secret

import (
	"strings"
)

// secretNames are field names that always hold secrets, compared after
// lower-casing and dropping '-' and '_' (so X-API-Key, apiKey, api_key match).
// "key" is the reference's spelling of api_key, which provider.AuthFromMap accepts.
var secretNames = map[string]bool{
	"apikey": true, "xapikey": true, "key": true, "secret": true, "clientsecret": true, "password": true,
	"passwd": true, "token": true, "accesstoken": true, "refreshtoken": true, "bearertoken": true,
	"idtoken": true, "authorization": true, "proxyauthorization": true, "cookie": true,
	"privatekey": true, "verifytoken": true, "webhooksecret": true, "signingsecret": true,
}

// separators are dropped when comparing names (one replacer: building one
// per call showed in profiles, as headers are checked on every webhook).
var separators = strings.NewReplacer("-", "", "_", "")

func normalise(name string) string {
	return separators.Replace(strings.ToLower(name))
}

// Fields decides which map keys are secret: the built-in names plus extra
// ones (e.g. a provider schema's writeOnly properties).
type Fields map[string]bool

// NewFields returns the built-in secret names plus extra.
func NewFields(extra ...string) Fields {
	f := Fields{}
	for _, e := range extra {
		f[normalise(e)] = true
	}
	return f
}

// Has reports whether name is a secret field.
func (f Fields) Has(name string) bool {
	n := normalise(name)
	return secretNames[n] || f[n]
}

// walk rebuilds v, calling leaf for the value of every secret field (at any
// depth, in objects inside arrays too) and copying everything else.
func (f Fields) walk(path string, v any, leaf func(path string, v any) (any, error)) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			p := path + "." + k
			var err error
			if f.Has(k) && x != nil {
				out[k], err = leaf(p, x)
			} else {
				out[k], err = f.walk(p, x, leaf)
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			var err error
			if out[i], err = f.walk(path+"[]", x, leaf); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

func (f Fields) walkMap(m map[string]any, root string, leaf func(path string, v any) (any, error)) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	out, err := f.walk(root, m, leaf)
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

// Seal returns a copy of m with every secret field encrypted. Already
// sealed values are kept as they are. root names m in authenticated data.
func (b *Box) Seal(m map[string]any, root string, f Fields) (map[string]any, error) {
	return f.walkMap(m, root, func(p string, v any) (any, error) {
		if IsSealed(v) {
			return v, nil
		}
		return b.sealValue(p, v)
	})
}

// Open returns a copy of m with every sealed field decrypted.
func (b *Box) Open(m map[string]any, root string, f Fields) (map[string]any, error) {
	return f.walkMap(m, root, func(p string, v any) (any, error) {
		if !IsSealed(v) {
			return v, nil
		}
		return b.openValue(p, v.(string))
	})
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

// Mask returns a copy of the plaintext m with every secret field masked.
func Mask(m map[string]any, f Fields) map[string]any {
	out, _ := f.walkMap(m, "", func(_ string, v any) (any, error) { return MaskValue(v), nil })
	return out // the leaf never fails
}

// KeepMasked returns a copy of the plaintext update in which every secret
// field that still holds the mask of the stored plaintext value at the same
// place is replaced by that stored value: a client that sends back what it
// read keeps the secret. A mask with nothing stored behind it is an error.
func KeepMasked(update, stored map[string]any, f Fields) (map[string]any, error) {
	return f.walkMap(update, "", func(p string, v any) (any, error) {
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(s, "****") {
			return v, nil
		}
		old, found := lookup(stored, strings.Split(strings.TrimPrefix(p, "."), "."))
		if !found || MaskValue(old) != s {
			return nil, &MaskedError{Field: strings.TrimPrefix(p, ".")}
		}
		return old, nil
	})
}

// MaskedError says a masked value was sent where no matching secret is stored.
type MaskedError struct{ Field string }

func (e *MaskedError) Error() string {
	return e.Field + ": a masked value was sent but no matching secret is stored; send the secret itself"
}

func lookup(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, k := range path {
		obj, ok := cur.(map[string]any)
		if !ok || strings.HasSuffix(k, "[]") {
			return nil, false // inside arrays there is no stable place to match
		}
		if cur, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}
