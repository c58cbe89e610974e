package expr

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The array slots a transform's written paths may create are bounded, all
// paths together: each index was bounded alone (10,000), so a target
// chaining [10000] a thousand times, or many targets a1[10000],
// a2[10000]…, allocated gigabytes when the node ran (found by a defect
// hunt). Read paths are not counted.
func TestWrittenPathsAreBounded(t *testing.T) {
	_, err := CompileMappings([]FieldMapping{{Source: "workflow.a", Target: "x" + strings.Repeat("[10000]", 1000)}})
	require.ErrorContains(t, err, "more than 100000")
	many := make([]FieldMapping, 20)
	for i := range many {
		many[i] = FieldMapping{Source: "workflow.a", Target: fmt.Sprintf("a%d[9999]", i)}
	}
	_, err = CompileMappings(many)
	require.ErrorContains(t, err, "more than 100000")
	defaults := make([]any, 11)
	for i := range defaults {
		defaults[i] = map[string]any{"operation": "default", "spec": map[string]any{fmt.Sprintf("x%d[9999]", i): 1.0}}
	}
	_, err = CompileOperations([]Operation{{Operation: "steps", Spec: map[string]any{"steps": defaults}}})
	require.ErrorContains(t, err, "more than 100000", "nested steps share the budget")

	within := make([]FieldMapping, 0, 101)
	for i := range 100 {
		within = append(within, FieldMapping{Source: fmt.Sprintf("workflow.list[%d]", 9_000+i), Target: fmt.Sprintf("items[%d]", i)})
	}
	within = append(within, FieldMapping{Source: "workflow.a", Target: "rows[9999]"})
	tr, err := CompileMappings(within)
	require.NoError(t, err, "reads are not counted; 100 elements and one row at 9,999 are")
	// An array is counted once, by its largest index: six fields of
	// rows[9000], each upper-cased (its target parsed again), pad rows once
	// (found by a review: each path, and each transformed target twice, paid).
	fields := make([]FieldMapping, 6)
	for i := range fields {
		fields[i] = FieldMapping{Source: fmt.Sprintf("workflow.f%d", i), Target: fmt.Sprintf("rows[9000].f%d", i),
			Transformation: &Transformation{Type: "to_uppercase"}}
	}
	_, err = CompileMappings(fields)
	require.NoError(t, err)
	out, err := tr.Apply(map[string]any{"workflow": map[string]any{"a": 1.0}})
	require.NoError(t, err)
	require.Len(t, out.(map[string]any)["rows"], 10_000)
}

// Counting a written path's arrays costs its length, not its square: the
// first per-array count rendered each array's path as text, and a 700 KB
// target of [10000]s (refused early) or of [0]s (within the budget)
// exhausted a CI machine's memory (found by CI).
func TestWriteBudgetIsLinear(t *testing.T) {
	for _, target := range []string{"x" + strings.Repeat("[0]", 100_000), "x" + strings.Repeat("[10000]", 100_000)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _ = CompileMappings([]FieldMapping{{Source: "workflow.a", Target: target}})
		runtime.ReadMemStats(&after)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(256<<20), "compiling a %d-byte target", len(target))
	}
}

// A condition nesting lists or maps more than 32 deep is refused at once:
// checking nested literals costs about depth⁴, and 200 nested lists (a
// 405-byte condition) took seconds of CPU at every save (found by a defect
// hunt). Brackets inside strings are text.
func TestConditionLiteralNestingIsBounded(t *testing.T) {
	nested := func(d int) string { return strings.Repeat("[", d) + "1" + strings.Repeat("]", d) + " == []" }
	_, err := CompileCondition(nested(33), nil)
	require.ErrorContains(t, err, "nested 33 deep: at most 32")
	_, err = CompileCondition(strings.Repeat("{'k': ", 40)+"1"+strings.Repeat("}", 40)+" == {}", nil)
	require.ErrorContains(t, err, "nested 40 deep")
	_, err = CompileCondition(nested(32), nil)
	require.NoError(t, err)
	_, err = CompileCondition(`workflow.note == "`+strings.Repeat("[", 100)+`" || workflow.tag == '\'[[['`, nil)
	require.NoError(t, err)
}
