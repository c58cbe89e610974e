package expr

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
)

// change is what an edit does to the value at the end of a path.
type change uint8

const (
	keep    change = iota // leave the document as it is
	replace               // set the value (creating missing containers)
	remove                // delete the key or array element
)

// editFunc decides the new value at the end of a path from the old one.
type editFunc func(old any, exists bool) (any, change, error)

// setTo is the edit that writes v.
func setTo(v any) editFunc {
	return func(any, bool) (any, change, error) { return v, replace, nil }
}

// deleteIfPresent is the edit that removes what exists.
func deleteIfPresent(_ any, exists bool) (any, change, error) {
	if exists {
		return nil, remove, nil
	}
	return nil, keep, nil
}

// writer edits documents copy-on-write: every object it changes is cloned
// first unless the writer made it itself, so the input is never mutated and
// repeated writes under one object clone it once. Arrays are always copied
// (they are rarely written). A writer lives for one operation, and an
// operation that writes values read from the document (coalesce, merge)
// takes a new writer per write: otherwise an owned object could become
// reachable from two places and one in-place write would show through both.
type writer struct {
	// owned are the objects this writer made; holding them keeps their
	// addresses from being reused while the writer compares them.
	owned []map[string]any
}

// writable returns m itself if this writer made it, else a clone it owns
// (a new object for nil).
func (w *writer) writable(m map[string]any) map[string]any {
	if m != nil && w.owns(m) {
		return m
	}
	clone := maps.Clone(m)
	if clone == nil {
		clone = make(map[string]any, 4)
	}
	return w.adopt(clone)
}

// adopt records m, which the caller just made, as owned by this writer.
func (w *writer) adopt(m map[string]any) map[string]any {
	w.owned = append(w.owned, m)
	return m
}

// owns compares map identities (maps are not comparable with ==); a writer
// owns a handful of objects, so a linear scan is cheapest.
func (w *writer) owns(m map[string]any) bool {
	p := reflect.ValueOf(m).Pointer()
	for _, o := range w.owned {
		if reflect.ValueOf(o).Pointer() == p {
			return true
		}
	}
	return false
}

// edit applies fn at p in doc and returns the new document; errors name p.
func (w *writer) edit(doc any, p path, fn editFunc) (any, error) {
	out, _, err := w.update(doc, p, 0, fn)
	if err != nil {
		var pe *pathError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, &pathError{path: p.text, msg: err.Error()}
	}
	return out, nil
}

// update applies fn at p (from segment i) under cur and returns the new
// value of cur and whether anything changed. Missing or null containers
// are created when fn writes; any other value in the way is an error.
func (w *writer) update(cur any, p path, i int, fn editFunc) (any, bool, error) {
	s := p.segs[i]
	switch s.kind {
	case segKey:
		m, ok := cur.(map[string]any)
		if !ok && cur != nil {
			return w.blocked(cur, p, i, fn, "an object")
		}
		old, exists := m[s.key]
		nv, ch, err := w.descend(old, exists, p, i, fn)
		if err != nil || ch == keep || ch == remove && !exists {
			return cur, false, err
		}
		m = w.writable(m)
		if ch == remove {
			delete(m, s.key)
		} else {
			m[s.key] = nv
		}
		return m, true, nil
	case segIndex:
		a, ok := cur.([]any)
		if !ok && cur != nil {
			return w.blocked(cur, p, i, fn, "an array")
		}
		var old any
		exists := s.index < len(a)
		if exists {
			old = a[s.index]
		}
		nv, ch, err := w.descend(old, exists, p, i, fn)
		if err != nil || ch == keep || ch == remove && !exists {
			return cur, false, err
		}
		if ch == remove {
			return slices.Delete(slices.Clone(a), s.index, s.index+1), true, nil
		}
		out := make([]any, max(len(a), s.index+1))
		copy(out, a)
		out[s.index] = nv
		return out, true, nil
	default: // wildcard: every element present; nothing to visit creates nothing
		a, ok := cur.([]any)
		if !ok {
			return cur, false, nil
		}
		return w.updateEach(a, p, i, fn)
	}
}

// descend applies fn here if segment i is the last one, else recurses.
func (w *writer) descend(old any, exists bool, p path, i int, fn editFunc) (any, change, error) {
	if i == len(p.segs)-1 {
		return fn(old, exists)
	}
	nv, changed, err := w.update(old, p, i+1, fn)
	if err != nil || !changed {
		return nil, keep, err
	}
	return nv, replace, nil
}

func (w *writer) updateEach(a []any, p path, i int, fn editFunc) (any, bool, error) {
	var out []any
	var removed []bool
	for j, elem := range a {
		nv, ch, err := w.descend(elem, true, p, i, fn)
		if err != nil {
			return a, false, err
		}
		if ch == keep {
			continue
		}
		if out == nil {
			out, removed = slices.Clone(a), make([]bool, len(a))
		}
		out[j], removed[j] = nv, ch == remove
	}
	if out == nil {
		return a, false, nil
	}
	kept := out[:0]
	for j, v := range out {
		if !removed[j] {
			kept = append(kept, v)
		}
	}
	return kept, true, nil
}

// blocked handles a scalar (or wrong container) where the path goes on: it
// is an error only if the edit would write through it.
func (w *writer) blocked(cur any, p path, i int, fn editFunc, want string) (any, bool, error) {
	if _, changed, err := (&writer{}).update(nil, p, i, fn); err != nil || !changed {
		return cur, false, err
	}
	return cur, false, fmt.Errorf("%s is %s, not %s", p.prefix(i), typeName(cur), want)
}
