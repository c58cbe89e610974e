package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Operations that rewrite single values in place: timestamp, uuid and
// Flowker's custom string operations.

const (
	nowFormat  = "$now"  // input format: the current time instead of a value
	unixFormat = "$unix" // seconds since the epoch, in or out
)

type timestampEntry struct {
	path    path
	in, out string
}

// timestampOp re-formats time strings with Go layouts.
type timestampOp struct {
	entries []timestampEntry
	require bool
}

func compileTimestamp(s spec, require bool) (operation, error) {
	keys, err := s.keyed("")
	if err != nil {
		return nil, err
	}
	op := &timestampOp{require: require}
	for _, key := range keys {
		entry, ok := s.m[key].(map[string]any)
		if !ok {
			return nil, s.fail("spec.%s must be {inputFormat, outputFormat}", key)
		}
		// Re-formatting only changes a time that is there; $now writes one
		// where there is none.
		use := editPath
		if entry["inputFormat"] == nowFormat {
			use = writePath
		}
		p, err := s.parse(key, "target "+key, use)
		if err != nil {
			return nil, err
		}
		formats := spec{where: s.where, m: entry, writes: s.writes}
		e := timestampEntry{path: p}
		if e.in, err = formats.str("inputFormat", true); err != nil {
			return nil, s.fail("spec.%s.inputFormat must be a non-empty string", key)
		}
		if e.out, err = formats.str("outputFormat", true); err != nil || e.out == nowFormat {
			return nil, s.fail("spec.%s.outputFormat must be a layout or $unix", key)
		}
		op.entries = append(op.entries, e)
	}
	return op, nil
}

func (o *timestampOp) apply(doc any) (any, error) {
	var w writer
	var err error
	for _, e := range o.entries {
		if e.in == nowFormat {
			doc, err = w.edit(doc, e.path, setTo(formatTime(time.Now().UTC(), e.out)))
		} else {
			if _, _, err = read(doc, e.path, o.require); err != nil {
				return nil, err
			}
			doc, err = w.edit(doc, e.path, e.reformat)
		}
		if err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// reformat converts a time string (or an array of them, as Kazaam did);
// missing and null values are left alone.
func (e timestampEntry) reformat(old any, exists bool) (any, change, error) {
	if !exists || old == nil {
		return nil, keep, nil
	}
	if list, ok := old.([]any); ok {
		out := make([]any, len(list))
		for i, item := range list {
			v, err := e.convert(item)
			if err != nil {
				return nil, keep, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = v
		}
		return out, replace, nil
	}
	v, err := e.convert(old)
	return v, replace, err
}

func (e timestampEntry) convert(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	t, err := parseTime(e.in, v)
	if err != nil {
		return nil, err
	}
	return formatTime(t, e.out), nil
}

// parseTime reads a time string with a Go layout, or unix seconds (a
// number or a decimal string) for $unix.
func parseTime(layout string, v any) (time.Time, error) {
	if layout == unixFormat {
		secs, ok := number(v)
		if s, isString := v.(string); isString {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			secs, ok = float64(n), err == nil
		}
		if !ok || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return time.Time{}, fmt.Errorf("%s is not a unix time", render(v))
		}
		return time.Unix(int64(secs), 0).UTC(), nil
	}
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("value is %s, not a time string", typeName(v))
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot parse %q with layout %q", s, layout)
	}
	return t, nil
}

func formatTime(t time.Time, layout string) string {
	if layout == unixFormat {
		return strconv.FormatInt(t.Unix(), 10)
	}
	return t.Format(layout)
}

type uuidName struct {
	path       path
	hasPath    bool
	def        string
	hasDefault bool
}

type uuidEntry struct {
	path      path
	version   int
	namespace uuid.UUID
	names     []uuidName
}

// uuidOp writes a random (v4) or name-based (v3/v5) UUID.
type uuidOp struct{ entries []uuidEntry }

func compileUUID(s spec) (operation, error) {
	keys, err := s.keyed("")
	if err != nil {
		return nil, err
	}
	op := &uuidOp{}
	for _, key := range keys {
		p, err := s.parse(key, "target "+key, writePath)
		if err != nil {
			return nil, err
		}
		entry, ok := s.m[key].(map[string]any)
		if !ok {
			return nil, s.fail("spec.%s must be {version, namespace?, names?}", key)
		}
		e, err := compileUUIDEntry(s, key, entry)
		if err != nil {
			return nil, err
		}
		e.path = p
		op.entries = append(op.entries, e)
	}
	return op, nil
}

func compileUUIDEntry(s spec, key string, entry map[string]any) (uuidEntry, error) {
	version, ok := number(entry["version"])
	if !ok || version != 3 && version != 4 && version != 5 {
		return uuidEntry{}, s.fail("spec.%s.version must be 3, 4 or 5", key)
	}
	e := uuidEntry{version: int(version)}
	if e.version == 4 {
		return e, nil
	}
	var err error
	ns, _ := entry["namespace"].(string)
	switch ns {
	case "DNS":
		e.namespace = uuid.NameSpaceDNS
	case "URL":
		e.namespace = uuid.NameSpaceURL
	case "OID":
		e.namespace = uuid.NameSpaceOID
	case "X500":
		e.namespace = uuid.NameSpaceX500
	default:
		if e.namespace, err = uuid.Parse(ns); err != nil {
			return uuidEntry{}, s.fail("spec.%s.namespace must be DNS, URL, OID, X500 or a UUID", key)
		}
	}
	names, ok := entry["names"].([]any)
	if !ok || len(names) == 0 {
		return uuidEntry{}, s.fail("spec.%s.names must be a non-empty array of {path, default}", key)
	}
	for i, item := range names {
		m, _ := item.(map[string]any)
		var n uuidName
		n.def, n.hasDefault = m["default"].(string)
		if text, isString := m["path"].(string); isString && text != "" {
			if n.path, err = s.parse(text, fmt.Sprintf("spec.%s.names[%d].path", key, i), readPath); err != nil {
				return uuidEntry{}, err
			}
			n.hasPath = true
		}
		if !n.hasPath && !n.hasDefault {
			return uuidEntry{}, s.fail("spec.%s.names[%d] needs a path or a string default", key, i)
		}
		e.names = append(e.names, n)
	}
	return e, nil
}

func (o *uuidOp) apply(doc any) (any, error) {
	var w writer
	for _, e := range o.entries {
		// Generated per value written, so a wildcard gives each element its
		// own random UUID; names are read from the document as it was.
		source := doc
		var err error
		doc, err = w.edit(doc, e.path, func(any, bool) (any, change, error) {
			id, err := e.generate(source)
			return id, replace, err
		})
		if err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func (e uuidEntry) generate(doc any) (string, error) {
	if e.version == 4 {
		id, err := uuid.NewRandom()
		if err != nil {
			return "", failAt(e.path, "random UUID: %v", err)
		}
		return id.String(), nil
	}
	id := e.namespace
	for _, n := range e.names {
		name, found := n.def, false
		if n.hasPath {
			var v any
			if v, found = lookup(doc, n.path, false); found && v != nil {
				name = render(v)
			}
			found = found && v != nil
		}
		if !found && !n.hasDefault {
			return "", failAt(n.path, "UUID name is missing and has no default")
		}
		if e.version == 5 {
			id = uuid.NewSHA1(id, []byte(name))
		} else {
			id = uuid.NewMD5(id, []byte(name))
		}
	}
	return id.String(), nil
}

// stringOp rewrites the string at a path; a missing path or a non-string
// value leaves the document unchanged.
type stringOp struct {
	path    path
	rewrite func(string) string
}

func compileStringOp(name string, s spec) (operation, error) {
	p, err := s.pathEntry("path", editPath)
	if err != nil {
		return nil, err
	}
	op := &stringOp{path: p}
	switch name {
	case "remove_characters":
		chars, err := s.str("characters", true)
		if err != nil || strings.TrimSpace(chars) == "" {
			return nil, s.fail("spec.characters must be a non-blank string")
		}
		op.rewrite = func(v string) string {
			return strings.Map(func(r rune) rune {
				if strings.ContainsRune(chars, r) {
					return -1
				}
				return r
			}, v)
		}
	case "add_prefix", "add_suffix":
		key := strings.TrimPrefix(name, "add_")
		affix, err := s.str(key, true)
		if err != nil {
			return nil, err
		}
		if key == "prefix" {
			op.rewrite = func(v string) string { return affix + v }
		} else {
			op.rewrite = func(v string) string { return v + affix }
		}
	case "to_uppercase":
		op.rewrite = strings.ToUpper
	case "to_lowercase":
		op.rewrite = strings.ToLower
	}
	return op, nil
}

func (o *stringOp) apply(doc any) (any, error) {
	var w writer
	return w.edit(doc, o.path, func(old any, _ bool) (any, change, error) {
		s, ok := old.(string)
		if !ok {
			return nil, keep, nil
		}
		return o.rewrite(s), replace, nil
	})
}
