package audit_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
)

// eventTypeShape is what an event type looks like (RESOURCE_VERB); a
// trailing underscore is a prefix a type would be built from at run time.
var eventTypeShape = regexp.MustCompile(`^[A-Z]+(_[A-Z]+)+_?$`)

// notEventTypes are literals of that shape in the recording packages that
// name something else.
var notEventTypes = map[string]string{
	"WORKFLOW_INVALID_EXECUTOR_CONFIG": "the code of a workflow check (service/nodes.go)",
}

// recording is what the production sources of the packages that record
// audit events say: their event-type-shaped string literals, where, and
// the audit.X names they use.
type recording struct {
	packages []string
	literals map[string]string // value → first position, outside the audit package
	own      map[string]string // the same, in the audit package (its constants)
	names    map[string]bool   // X of every audit.X
	consts   map[string]string // the audit package's string constants: name → value
}

// scanSources parses every non-test Go file under internal/ and cmd/. A
// package records events if it makes them (audit.NewEvent, the one
// constructor) or appends them (AppendAudit); the store packages, which
// keep what they are given, are not among them.
func scanSources(t *testing.T) recording {
	t.Helper()
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	files := map[string][]*ast.File{} // by directory
	for _, top := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			files[filepath.Dir(path)] = append(files[filepath.Dir(path)], f)
			return nil
		})
		require.NoError(t, err)
	}
	auditDir := filepath.Join(root, "internal", "audit")
	storeDir := filepath.Join(root, "internal", "store")
	rec := recording{literals: map[string]string{}, own: map[string]string{}, names: map[string]bool{},
		consts: map[string]string{}}
	for dir, parsed := range files {
		records := dir == auditDir
		for _, f := range parsed {
			ast.Inspect(f, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok && !strings.HasPrefix(dir, storeDir) {
					if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "AppendAudit" ||
						sel.Sel.Name == "NewEvent" && isIdent(sel.X, "audit")) {
						records = true
					}
				}
				return true
			})
		}
		if !records {
			continue
		}
		rec.packages = append(rec.packages, dir)
		literals := rec.literals
		if dir == auditDir {
			literals = rec.own
		}
		for _, f := range parsed {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if v, err := strconv.Unquote(n.Value); n.Kind == token.STRING && err == nil && eventTypeShape.MatchString(v) {
						if _, seen := literals[v]; !seen {
							literals[v] = fset.Position(n.Pos()).String()
						}
					}
				case *ast.SelectorExpr:
					if isIdent(n.X, "audit") {
						rec.names[n.Sel.Name] = true
					}
				case *ast.ValueSpec:
					for i, name := range n.Names {
						if lit, ok := valueAt(n, i).(*ast.BasicLit); ok && dir == auditDir && lit.Kind == token.STRING {
							rec.consts[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
				return true
			})
		}
	}
	return rec
}

func joined(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func valueAt(v *ast.ValueSpec, i int) ast.Expr {
	if i < len(v.Values) {
		return v.Values[i]
	}
	return nil
}

// The eventType filter of GET /v1/audit-events is closed over
// audit.EventTypes, so a type recorded but not listed could never be
// filtered for. Every event-type literal in the packages that record
// events must be listed (a type built at run time from a prefix cannot
// be checked, so none may be), and every listed type must be recorded
// somewhere (by its constant or its literal): the list is what is emitted.
func TestEventTypesCoverEveryEmitter(t *testing.T) {
	t.Parallel()
	rec := scanSources(t)
	for _, want := range []string{"service", "engine", "waits", "audit"} {
		require.True(t, slices.ContainsFunc(rec.packages, func(p string) bool { return filepath.Base(p) == want }),
			"the scan must find the %s package among those that record events: %v", want, rec.packages)
	}
	types := audit.EventTypes()
	for v, at := range joined(rec.literals, rec.own) {
		if _, other := notEventTypes[v]; other {
			continue
		}
		require.False(t, strings.HasSuffix(v, "_"),
			"%s: %q builds an event type at run time; use the constants of internal/audit/events.go", at, v)
		require.True(t, audit.IsEventType(v),
			"%s: event type %q is not in audit.EventTypes (internal/audit/events.go; add it there, "+
				"to the OpenAPI AuditEventType enum and to docs/decisions.md), or list it in notEventTypes", at, v)
	}
	for _, typ := range types {
		used := false
		for name, v := range rec.consts {
			used = used || v == typ && rec.names[name]
		}
		_, literal := rec.literals[typ]
		require.True(t, used || literal, "%s is listed but nothing records it", typ)
	}
	for name, v := range rec.consts {
		if eventTypeShape.MatchString(v) {
			require.Contains(t, types, v, "audit.%s is an event type missing from EventTypes", name)
		}
	}
}

// The list is a closed vocabulary: no duplicates, each of the shape, and
// a copy (a caller cannot change what the filter accepts).
func TestEventTypesList(t *testing.T) {
	t.Parallel()
	types := audit.EventTypes()
	seen := map[string]bool{}
	for _, typ := range types {
		require.Regexp(t, `^[A-Z]+(_[A-Z]+)+$`, typ)
		require.False(t, seen[typ], "%s is listed twice", typ)
		seen[typ] = true
	}
	require.True(t, audit.IsEventType(audit.KeyedEventType))
	require.False(t, audit.IsEventType("WORKFLOW_CREATE"))
	types[0] = "CHANGED"
	require.Equal(t, audit.WorkflowCreated, audit.EventTypes()[0])
}
