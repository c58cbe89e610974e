package expr

import (
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"

	"flowker/internal/flow"
)

// ConditionCostLimit bounds one evaluation (CEL's abstract cost units: about
// one per operation or iteration); a template condition costs under ten.
const ConditionCostLimit = 100_000

// Condition is a compiled condition. It is immutable and safe to evaluate
// from many goroutines at once.
type Condition struct {
	src     string
	celText string
	program cel.Program
}

// Source returns the condition as written.
func (c *Condition) Source() string { return c.src }

// CEL returns the CEL text the condition was translated to.
func (c *Condition) CEL() string { return c.celText }

// CompileError is a condition that does not compile. Line and Column are
// 1-based and count code points of the original text.
type CompileError struct {
	Message string
	Line    int
	Column  int
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("invalid condition at line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// EvalError is a condition that failed at run time (missing key, no such
// overload, cost limit exceeded).
type EvalError struct {
	Source string
	Err    error
}

func (e *EvalError) Error() string { return fmt.Sprintf("condition `%s`: %v", e.Source, e.Err) }

func (e *EvalError) Unwrap() error { return e.Err }

// baseEnv holds what every condition sees; building it parses CEL's
// standard library, so it is done once per process.
var baseEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("workflow", cel.DynType),
		cel.Variable("output", cel.DynType),
		cel.Variable("nodes", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
	)
})

// maxLiteralNesting bounds how deeply a condition nests list and map
// literals: checking them costs about depth⁴, and 200 nested lists (a
// 405-byte condition) took seconds of CPU at every save.
const maxLiteralNesting = 32

// literalNesting is how deeply src nests [ and {, outside string literals.
func literalNesting(src string) int {
	depth, deepest := 0, 0
	var quote byte
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case quote != 0 && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// CompileCondition parses, translates and type-checks src. nodeIDs are the
// workflow's node ids: those that are CEL identifiers become dyn variables,
// the others are rewritten to nodes["id"] (see the package comment).
func CompileCondition(src string, nodeIDs []string) (*Condition, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &CompileError{Message: "empty expression", Line: 1, Column: 1}
	}
	env, err := baseEnv()
	if err != nil {
		return nil, fmt.Errorf("condition environment: %w", err)
	}
	if decls := nodeVariables(nodeIDs); len(decls) > 0 {
		if env, err = env.Extend(decls...); err != nil {
			return nil, fmt.Errorf("condition environment: %w", err)
		}
	}
	if d := literalNesting(src); d > maxLiteralNesting {
		return nil, &CompileError{Message: fmt.Sprintf("lists and maps nested %d deep: at most %d", d, maxLiteralNesting),
			Line: 1, Column: 1}
	}
	tr := translateDialect(src, nodeIDs)
	parsed, issues := env.Parse(tr.cel)
	if issues != nil && issues.Err() != nil {
		return nil, tr.compileError(issues.Errors())
	}
	if err := checkNesting(parsed.NativeRep(), tr); err != nil {
		return nil, err // before checking, which costs about the nesting's fourth power
	}
	checked, issues := env.Check(parsed)
	if issues != nil && issues.Err() != nil {
		return nil, tr.compileError(issues.Errors())
	}
	if out := checked.OutputType(); !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		line, col := lineColumn(src, len(src)-len(strings.TrimLeft(src, " \t\r\n")))
		return nil, &CompileError{Message: "condition must evaluate to bool, not " + out.String(), Line: line, Column: col}
	}
	program, err := env.Program(checked, cel.CostLimit(ConditionCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, &CompileError{Message: err.Error(), Line: 1, Column: 1}
	}
	return &Condition{src: src, celText: tr.cel, program: program}, nil
}

// nodeVariables declares the ids CEL can name; the context's own keys are
// declared by the base environment already.
func nodeVariables(nodeIDs []string) []cel.EnvOption {
	var decls []cel.EnvOption
	seen := make(map[string]bool, len(nodeIDs))
	for _, id := range nodeIDs {
		if declarable(id) && !flow.ReservedNodeIDs[id] && !seen[id] {
			seen[id] = true
			decls = append(decls, cel.Variable(id, cel.DynType))
		}
	}
	return decls
}

// compileError reports the first CEL issue by position, mapped back to the
// original text.
func (t translation) compileError(errs []*cel.Error) *CompileError {
	if len(errs) == 0 {
		return &CompileError{Message: "invalid expression", Line: 1, Column: 1}
	}
	first := errs[0]
	for _, e := range errs[1:] {
		if l, fl := e.Location.Line(), first.Location.Line(); l < fl || l == fl && e.Location.Column() < first.Location.Column() {
			first = e
		}
	}
	line, col := t.originalPosition(first.Location.Line(), first.Location.Column())
	return &CompileError{Message: first.Message, Line: line, Column: col}
}

// Eval runs the condition against vars (workflow, output, nodes and the
// node ids) within ConditionCostLimit and converts the result to a bool.
func (c *Condition) Eval(vars map[string]any) (bool, error) {
	val, _, err := c.program.Eval(vars)
	if err != nil {
		return false, &EvalError{Source: c.src, Err: err}
	}
	return truthy(val), nil
}

// truthy is the reference's conversion of a bare operand: null, "", "false"
// (any case) and zero are false, everything else (objects, lists) is true.
func truthy(v ref.Val) bool {
	switch v := v.(type) {
	case types.Bool:
		return bool(v)
	case types.Null:
		return false
	case types.String:
		return v != "" && !strings.EqualFold(string(v), "false")
	case types.Double:
		return v != 0
	case types.Int:
		return v != 0
	case types.Uint:
		return v != 0
	}
	return true
}
