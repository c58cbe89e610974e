package expr

import (
	"fmt"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
)

// maxMacroNesting bounds how deeply a condition nests comprehensions (the
// macros map, filter, all, exists and exists_one), one inside another's
// range, accumulator, condition, step or result. Each link of a chain is
// one level: [1].map(x, {1: x}).map(x, {1: x})… nests its type a level per
// link without a bracket for literalNesting to count, and a hundred links
// (1.5 KB) took seconds to check at every save. Real conditions nest two or
// three (items.exists(i, i.tags.exists(t, …))); 8 leaves room for those.
// Eight links can still multiply brackets: the value bounds below cover
// that.
const maxMacroNesting = 8

// maxNestingWeight bounds the whole condition: every subexpression weighs
// its nesting bound cubed (checking a value nested d deep costs about d⁴
// in all), and they may weigh this much together. Six 32-deep lists (a
// 500-character condition, the longest a workflow may hold) weigh 1.7
// million and check in about 15 ms; 64 KB of 8-deep ones (3.9 million)
// took half a second, and of 32-deep ones seconds.
const maxNestingWeight = 1 << 21

// checkNesting refuses, before type checking, a parsed condition that
// checking would take seconds over: macros nested more than maxMacroNesting
// deep, a value whose type nests lists and maps (or type()) more than
// maxLiteralNesting deep counting the levels macros add — eight links of
// .map(x, [[…30…[x]…]]) build a 240-deep type from 30 brackets and took
// seconds — or nested values repeated past maxNestingWeight. It walks the
// parsed expression once; the error is placed where a limit was passed.
func checkNesting(a *ast.AST, tr translation) error {
	w := nestingWalk{vars: map[string]int{}}
	w.depth(a.Expr())
	if w.tooDeep == nil {
		return nil
	}
	loc := a.SourceInfo().GetStartLocation(w.tooDeep.ID())
	line, col := tr.originalPosition(loc.Line(), loc.Column())
	return &CompileError{Message: w.msg, Line: line, Column: col}
}

// nestingWalk bounds, for every subexpression, how deeply its type nests
// lists and maps: a literal adds a level, a comprehension's element
// variable is a level inside its range, its accumulator holds what its
// initial value and step build, an index or a field is a level inside its
// operand, and comparisons and logic are booleans. The bound may exceed the
// type (a call keeps its deepest argument's) but never compounds: a chain
// of .map(x, x) stays where it started.
type nestingWalk struct {
	vars    map[string]int // comprehension variables in scope → their bound
	macros  int            // comprehensions around the expression walked
	weight  int            // of the expressions walked (see maxNestingWeight)
	tooDeep ast.Expr       // the first expression over a limit, else nil
	msg     string
}

func (w *nestingWalk) fail(e ast.Expr, msg string) {
	if w.tooDeep == nil {
		w.tooDeep, w.msg = e, msg
	}
}

// depth returns e's bound (0 once something went too deep: the walk stops).
func (w *nestingWalk) depth(e ast.Expr) int {
	if w.tooDeep != nil {
		return 0
	}
	d := 0
	switch e.Kind() {
	case ast.IdentKind:
		d = w.vars[e.AsIdent()]
	case ast.SelectKind:
		if d = max(w.depth(e.AsSelect().Operand())-1, 0); e.AsSelect().IsTestOnly() {
			d = 0 // has(a.b)
		}
	case ast.CallKind:
		d = w.call(e.AsCall())
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			d = max(d, w.depth(el))
		}
		d++
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			d = max(d, w.depth(en.AsMapEntry().Key()), w.depth(en.AsMapEntry().Value()))
		}
		d++
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			d = max(d, w.depth(f.AsStructField().Value()))
		}
		d++
	case ast.ComprehensionKind:
		if w.macros++; w.macros > maxMacroNesting {
			w.fail(e, fmt.Sprintf("macros (map, filter, all, exists, exists_one) nested more than %d deep", maxMacroNesting))
			return 0
		}
		d = w.comprehension(e.AsComprehension())
		w.macros--
	}
	w.weight += d * d * d
	switch {
	case d > maxLiteralNesting:
		w.fail(e, fmt.Sprintf("builds lists and maps nested %d deep (counting the levels macros such as map add): at most %d",
			d, maxLiteralNesting))
	case w.weight > maxNestingWeight:
		w.fail(e, fmt.Sprintf("nests lists and maps too often to check: a weight of more than %d "+
			"(each expression weighs the depth of its value cubed)", maxNestingWeight))
	}
	return d
}

func (w *nestingWalk) call(c ast.CallExpr) int {
	args := c.Args()
	if c.IsMemberFunction() {
		args = append([]ast.Expr{c.Target()}, args...)
	}
	deepest, first := 0, 0
	for i, a := range args {
		d := w.depth(a)
		deepest = max(deepest, d)
		if i == 0 {
			first = d
		}
	}
	switch c.FunctionName() {
	case operators.Index, operators.OptIndex:
		return max(first-1, 0)
	case overloads.TypeConvertType: // type(x) is a level around x's type
		return deepest + 1
	case operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals, operators.Greater,
		operators.GreaterEquals, operators.LogicalAnd, operators.LogicalOr, operators.LogicalNot,
		operators.In, operators.NotStrictlyFalse:
		return 0
	}
	return deepest
}

// comprehension binds its variables while walking its parts and returns
// the bound of its result.
func (w *nestingWalk) comprehension(c ast.ComprehensionExpr) int {
	elem := max(w.depth(c.IterRange())-1, 0)
	accu := w.depth(c.AccuInit())
	restore := w.bind(map[string]int{c.IterVar(): elem, c.IterVar2(): elem, c.AccuVar(): accu})
	// The macros' steps keep the accumulator and add to it (map:
	// __result__ + [f(x)]), so one pass finds what it holds.
	accu = max(accu, w.depth(c.LoopCondition()), w.depth(c.LoopStep()))
	w.vars[c.AccuVar()] = accu
	d := w.depth(c.Result())
	restore()
	return d
}

// bind sets variables (names "" are none) and returns what restores the
// outer scope.
func (w *nestingWalk) bind(vars map[string]int) func() {
	type saved struct {
		d     int
		bound bool
	}
	outer := make(map[string]saved, len(vars))
	for name, d := range vars {
		if name == "" {
			continue
		}
		old, bound := w.vars[name]
		outer[name] = saved{old, bound}
		w.vars[name] = d
	}
	return func() {
		for name, s := range outer {
			if s.bound {
				w.vars[name] = s.d
			} else {
				delete(w.vars, name)
			}
		}
	}
}
