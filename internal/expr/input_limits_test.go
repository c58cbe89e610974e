package expr

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Chained macros nest a type a level per link without a bracket for
// literalNesting to count: [1].map(x, {1: x}).map(x, {1: x})… a hundred
// links long (1.5 KB) took seconds to type-check at every save. Macros are
// refused, after parsing and before checking, past 8 nested in one
// another's range, step or result (found by a defect hunt).
func TestConditionMacroNestingIsBounded(t *testing.T) {
	chain := func(links int) string { return "[1]" + strings.Repeat(".map(x, {1: x})", links) + " == []" }
	_, err := CompileCondition(chain(100), nil)
	var ce *CompileError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.Message, "macros (map, filter, all, exists, exists_one) nested more than 8 deep")
	_, err = CompileCondition(chain(9), nil)
	require.ErrorContains(t, err, "nested more than 8 deep")
	_, err = CompileCondition(chain(8), nil)
	require.NoError(t, err)

	// Nested in the step as well as in the range; the error points at the
	// ninth macro of what was written.
	inner := "workflow.items" + strings.Repeat(".exists(x, x", 8) + ".exists(y, y > 1.0)" + strings.Repeat(")", 8)
	_, err = CompileCondition(inner, nil)
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.Message, "nested more than 8 deep")
	require.Equal(t, []int{1, strings.LastIndex(inner, ".exists(") + len(".exists(")}, []int{ce.Line, ce.Column})

	// Two or three levels, as real conditions nest them, still compile and run.
	c, err := CompileCondition(`workflow.items.exists(i, [i].all(j, [j].filter(k, k > 1.0).size() >= 0)) AND `+
		`workflow.items.map(i, i * 2.0).exists(d, d == 6.0)`, testNodeIDs)
	require.NoError(t, err)
	got, err := c.Eval(testContext())
	require.NoError(t, err)
	require.True(t, got)
}

// Within the macro bound, links can still multiply brackets: eight links of
// .map(x, [[…30…[x]…]]) build a 240-deep type from 30 nested brackets (3 s
// to check, 570 bytes), type(type(…)) nests without any, and 64 KB of
// 32-deep lists took seconds. The nesting a value's type may reach is
// bounded as literals' are (32), counting the levels macros add, and all
// nested values together by a weight.
func TestConditionNestedValuesAreBoundedAcrossMacros(t *testing.T) {
	lists := func(d int, inner string) string { return strings.Repeat("[", d) + inner + strings.Repeat("]", d) }
	for _, src := range []string{
		"[1]" + strings.Repeat(".map(x, "+lists(30, "x")+")", 8) + " == []",
		"[1]" + strings.Repeat(".map(x, "+lists(7, "x")+")", 5) + " == []",
		"[1]" + strings.Repeat(".map(x, "+strings.Repeat("{1: ", 20)+"x"+strings.Repeat("}", 20)+")", 2) + " == []",
		strings.Repeat("type(", 40) + "1" + strings.Repeat(")", 40) + " == type(1)",
	} {
		_, err := CompileCondition(src, nil)
		require.ErrorContains(t, err, "(counting the levels macros such as map add): at most 32", src)
	}
	repeated := func(one string, size int) string {
		return strings.TrimSuffix(strings.Repeat(one+" && ", size/(len(one)+4)), " && ")
	}
	_, err := CompileCondition(repeated(lists(32, "1")+" == []", 4<<10), nil)
	require.ErrorContains(t, err, "nests lists and maps too often to check")
	_, err = CompileCondition("[1].map(x, "+lists(30, "x")+").all(y, "+repeated("y == y", 8<<10)+")", nil)
	require.ErrorContains(t, err, "nests lists and maps too often to check")

	// What the bounds leave: 32-deep literals in the longest condition a
	// workflow holds (500 characters), links that do not deepen, 4×8.
	for _, src := range []string{
		repeated(lists(32, "1")+" == []", 500),
		"[1]" + strings.Repeat(".map(x, x)", 8) + " == [1]",
		"[1]" + strings.Repeat(".map(x, "+lists(7, "x")+")", 4) + " != []",
		"[1].map(x, " + lists(31, "x") + ")[0] != []",
		repeated("[[1], [2]] == [[1]]", 16<<10),
	} {
		_, err := CompileCondition(src, nil)
		require.NoError(t, err, src)
	}
}

// The write budget counts rows[*].pad[9999] once, but it pads an array in
// every row when the node runs (20 rows: 200,000 slots; a 1 MiB body holds
// ~300,000 rows). An index after a wildcard is refused in a path that may
// create it, and left to delete and the string operations, which only
// change what exists (found by a defect hunt).
func TestWriteIndexAfterWildcardIsRefused(t *testing.T) {
	const msg = "an index after a wildcard [*] cannot be written: it would pad an array in every element"
	for _, op := range []Operation{
		{Operation: "default", Spec: map[string]any{"rows[*].pad[9999]": 1.0}},
		{Operation: "default", Spec: map[string]any{"grid[*][3]": 1.0}},
		{Operation: "default", Spec: map[string]any{"a[*].b[*].c[0].d": 1.0}},
		{Operation: "concat", Spec: map[string]any{"sources": []any{map[string]any{"value": "x"}}, "targetPath": "rows[*].pad[5]"}},
		{Operation: "coalesce", Spec: map[string]any{"rows[*].pad[5]": []any{"a"}}},
		{Operation: "uuid", Spec: map[string]any{"rows[*].ids[0]": map[string]any{"version": 4.0}}},
		{Operation: "timestamp", Spec: map[string]any{"rows[*].at[0]": map[string]any{"inputFormat": "$now", "outputFormat": "2006"}}},
		{Operation: "steps", Spec: map[string]any{"steps": []any{
			map[string]any{"operation": "default", "spec": map[string]any{"rows[*].pad[1]": 1.0}}}}},
	} {
		_, err := CompileOperations([]Operation{op})
		require.ErrorContains(t, err, msg, op)
	}

	tr, err := CompileOperations([]Operation{
		{Operation: "default", Spec: map[string]any{"rows[*].seen": true, "first[2]": "x"}},
		{Operation: "delete", Spec: map[string]any{"paths": []any{"rows[*].tags[0]"}}},
		{Operation: "to_uppercase", Spec: map[string]any{"path": "rows[*].tags[0]"}},
	})
	require.NoError(t, err)
	out, err := tr.Apply(map[string]any{"rows": []any{
		map[string]any{"tags": []any{"a", "b"}}, map[string]any{"tags": []any{}}, map[string]any{},
	}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"first": []any{nil, nil, "x"}, "rows": []any{
		map[string]any{"seen": true, "tags": []any{"B"}},
		map[string]any{"seen": true, "tags": []any{}},
		map[string]any{"seen": true},
	}}, out)
}

// Text writes numbers as encoding/json does: 'g' formatting turned 0.00005
// into "5e-05" in a provider's query, where the request body (JSON) has
// 0.00005 (found by a defect hunt).
func TestTextFormatsNumbersAsEncodingJSON(t *testing.T) {
	for f, want := range map[float64]string{
		0.00005: "0.00005", 0.000001: "0.000001", 1e-7: "1e-7", 0.000012345: "0.000012345", -0.0001: "-0.0001",
		12: "12", 2_500_000: "2500000", 1e20: "100000000000000000000", 1e21: "1e+21", 1.5e300: "1.5e+300",
		0.1: "0.1", 5e-324: "5e-324", math.MaxFloat64: "1.7976931348623157e+308",
	} {
		require.Equal(t, want, Text(f), "%v", f)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		raw, err := json.Marshal(f)
		require.NoError(t, err)
		require.Equal(t, string(raw), Text(f), "%v", f)
	}
	require.Equal(t, "0.00005", Text(json.Number("5e-5")))
	require.Equal(t, "0.25", Text(float32(0.25)))
	require.Equal(t, "NaN", Text(math.NaN()), "JSON cannot hold it")
	require.Equal(t, "+Inf", Text(math.Inf(1)))
}

// The reference's True/FALSE (any case) become CEL's booleans, but a node
// may be named True (a valid id, declared as a variable): True["x"] and a
// bare True then name the node (found by a defect hunt).
func TestConditionNodeNamedLikeABoolean(t *testing.T) {
	ids := []string{"True", "FALSE", "kyc"}
	vars := map[string]any{"True": map[string]any{"approved": false}, "FALSE": "", "nodes": map[string]any{},
		"workflow": map[string]any{}, "kyc": map[string]any{"ok": true}}
	for src, want := range map[string]bool{
		`True["approved"] == false`: true,
		`True.approved`:             false,
		`True`:                      true, // an object is truthy
		`has(True.approved)`:        true,
		`FALSE == ""`:               true,
		`kyc.ok == TRUE`:            true, // not a node: the reference's boolean
		`kyc.ok AND false`:          false,
	} {
		c, err := CompileCondition(src, ids)
		require.NoError(t, err, src)
		got, err := c.Eval(vars)
		require.NoError(t, err, src)
		require.Equal(t, want, got, "%s (CEL %s)", src, c.CEL())
	}
	c, err := CompileCondition(`True AND NOT False`, nil)
	require.NoError(t, err)
	require.Equal(t, "true && ! false", c.CEL(), "without such nodes, the reference's booleans")
}
