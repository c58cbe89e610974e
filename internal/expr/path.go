package expr

import (
	"fmt"
	"strconv"
	"strings"
)

// maxWriteIndex bounds a[n] in paths: writing a[n] into a shorter array pads
// it with nulls, and a spec must not be able to allocate gigabytes.
const maxWriteIndex = 10_000

type segmentKind uint8

const (
	segKey      segmentKind = iota // object key
	segIndex                       // array element [n]
	segWildcard                    // every array element [*]
)

type segment struct {
	kind  segmentKind
	key   string
	index int
}

// path is a parsed document path. No segments means the whole document ($).
type path struct {
	text     string
	segs     []segment
	wildcard bool
}

// parsePath parses a.b[0].c[*] or $. Keys may hold any character but
// . [ and ]; only the first part may be a bare index ([0].id on an array).
func parsePath(text string) (path, error) {
	if text == "$" {
		return path{text: text}, nil
	}
	if text == "" {
		return path{}, fmt.Errorf("empty path")
	}
	p := path{text: text}
	for n, part := range strings.Split(text, ".") {
		key, rest, bracket := strings.Cut(part, "[")
		if bracket {
			rest = "[" + rest
		}
		if strings.Contains(key, "]") {
			return path{}, fmt.Errorf("bad path %q: unexpected ] in %q", text, part)
		}
		if key == "" && (n > 0 || !bracket) {
			return path{}, fmt.Errorf("bad path %q: empty key", text)
		}
		if key != "" {
			p.segs = append(p.segs, segment{kind: segKey, key: key})
		}
		for rest != "" {
			end := strings.IndexByte(rest, ']')
			if rest[0] != '[' || end < 0 {
				return path{}, fmt.Errorf("bad path %q: expected [index] or [*] in %q", text, part)
			}
			seg, err := parseIndex(rest[1:end])
			if err != nil {
				return path{}, fmt.Errorf("bad path %q: %w", text, err)
			}
			p.wildcard = p.wildcard || seg.kind == segWildcard
			p.segs = append(p.segs, seg)
			rest = rest[end+1:]
		}
	}
	return p, nil
}

func parseIndex(s string) (segment, error) {
	if s == "*" {
		return segment{kind: segWildcard}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strings.HasPrefix(s, "+") {
		return segment{}, fmt.Errorf("index %q is not a non-negative integer or *", s)
	}
	if n > maxWriteIndex {
		return segment{}, fmt.Errorf("index %d exceeds %d", n, maxWriteIndex)
	}
	return segment{kind: segIndex, index: n}, nil
}

// whole reports whether p is $.
func (p path) whole() bool { return len(p.segs) == 0 }

// prefix renders the first n segments, for error messages.
func (p path) prefix(n int) string {
	var b strings.Builder
	for i, s := range p.segs[:n] {
		switch s.kind {
		case segKey:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		case segIndex:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case segWildcard:
			b.WriteString("[*]")
		}
	}
	if b.Len() == 0 {
		return "$"
	}
	return b.String()
}

// lookup reads p from doc. A wildcard yields an array with one entry per
// element (null where the rest of the path is missing); strict makes any
// missing element a miss, as a required path must be complete.
func lookup(doc any, p path, strict bool) (any, bool) {
	return lookupFrom(doc, p.segs, strict)
}

func lookupFrom(v any, segs []segment, strict bool) (any, bool) {
	for i, s := range segs {
		switch s.kind {
		case segKey:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[s.key]; !ok {
				return nil, false
			}
		case segIndex:
			a, ok := v.([]any)
			if !ok || s.index >= len(a) {
				return nil, false
			}
			v = a[s.index]
		case segWildcard:
			a, ok := v.([]any)
			if !ok {
				return nil, false
			}
			out := make([]any, len(a))
			for j, elem := range a {
				x, found := lookupFrom(elem, segs[i+1:], strict)
				if !found && strict {
					return nil, false
				}
				out[j] = x
			}
			return out, true
		}
	}
	return v, true
}
