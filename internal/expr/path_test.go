package expr

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPathLookup(t *testing.T) {
	t.Parallel()
	doc := map[string]any{
		"tracer-validate": map[string]any{"body": map[string]any{"decision": "ALLOW"}},
		"grid":            []any{[]any{1.0, 2.0}, []any{3.0}},
		"rows":            []any{map[string]any{"tags": []any{"a", "b"}}, map[string]any{"tags": []any{"c"}}},
		"key with space":  "ok",
	}
	tests := []struct {
		path  string
		want  any
		found bool
	}{
		{"tracer-validate.body.decision", "ALLOW", true},
		{"grid[0][1]", 2.0, true},
		{"grid[1][1]", nil, false},
		{"grid[*][0]", []any{1.0, 3.0}, true},
		{"rows[*].tags[*]", []any{[]any{"a", "b"}, []any{"c"}}, true},
		{"rows[*].missing", []any{nil, nil}, true},
		{"key with space", "ok", true},
		{"tracer-validate.body.decision.deeper", nil, false},
		{"grid.x", nil, false},
		{"rows[*]", doc["rows"], true},
		{"$", doc, true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			p, err := parsePath(tc.path)
			require.NoError(t, err)
			got, found := lookup(doc, p, false)
			require.Equal(t, tc.found, found)
			require.Equal(t, tc.want, got)
		})
	}

	p, err := parsePath("[1]")
	require.NoError(t, err)
	got, found := lookup([]any{"a", "b"}, p, true)
	require.True(t, found)
	require.Equal(t, "b", got)
	_, found = lookup(doc, mustPath(t, "rows[*].missing"), true)
	require.False(t, found, "strict lookups need every element")
}

func mustPath(t *testing.T, text string) path {
	t.Helper()
	p, err := parsePath(text)
	require.NoError(t, err)
	return p
}

func TestParsePathErrors(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"":         "empty path",
		"a.":       `bad path "a.": empty key`,
		".a":       `bad path ".a": empty key`,
		"a.[0]":    `bad path "a.[0]": empty key`,
		"a]":       `bad path "a]": unexpected ] in "a]"`,
		"a[":       `bad path "a[": expected [index] or [*] in "a["`,
		"a[0]x":    `bad path "a[0]x": expected [index] or [*] in "a[0]x"`,
		"a[-1]":    `bad path "a[-1]": index "-1" is not a non-negative integer or *`,
		"a[+1]":    `bad path "a[+1]": index "+1" is not a non-negative integer or *`,
		"a[10001]": `bad path "a[10001]": index 10001 exceeds 10000`,
	} {
		_, err := parsePath(text)
		require.EqualError(t, err, want, text)
	}
	require.Equal(t, "a.b[2][*].c", mustPath(t, "a.b[2][*].c").prefix(5))
	require.Equal(t, "$", mustPath(t, "a").prefix(0))
}

func TestValueHelpers(t *testing.T) {
	t.Parallel()
	obj := map[string]any{"b": 1.0, "a": []any{"x", nil}}
	for v, want := range map[any]string{nil: "", "s": "s", true: "true", 12.0: "12", 1.5: "1.5", 1e21: "1e+21", 7: "7"} {
		require.Equal(t, want, render(v))
	}
	require.Equal(t, `{"a":["x",null],"b":1}`, render(obj))
	require.Equal(t, "xy", render([]any{"x", nil, "y"}))

	equal := [][2]any{{nil, nil}, {"a", "a"}, {true, true}, {1.0, 1}, {int64(2), json.Number("2")},
		{[]any{1.0, "a"}, []any{1, "a"}}, {obj, map[string]any{"a": []any{"x", nil}, "b": 1}}}
	for _, pair := range equal {
		require.True(t, jsonEqual(pair[0], pair[1]), "%v == %v", pair[0], pair[1])
	}
	unequal := [][2]any{{nil, 0.0}, {"1", 1.0}, {true, 1.0}, {[]any{1.0}, []any{1.0, 2.0}}, {[]any{1.0}, []any{2.0}},
		{obj, map[string]any{"b": 1.0}}, {obj, map[string]any{"a": nil, "c": 1.0}}, {float32(1), "x"}}
	for _, pair := range unequal {
		require.False(t, jsonEqual(pair[0], pair[1]), "%v != %v", pair[0], pair[1])
	}

	for v, want := range map[any]string{nil: "null", "s": "a string", true: "a boolean", 1: "a number",
		int32(1): "a number", struct{}{}: "a struct {}"} {
		require.Equal(t, want, typeName(v))
	}
	require.Equal(t, "an array", typeName([]any{}))
	require.Equal(t, "an object", typeName(obj))
}

func TestErrorStrings(t *testing.T) {
	t.Parallel()
	require.EqualError(t, &CompileError{Message: "boom", Line: 2, Column: 3}, "invalid condition at line 2, column 3: boom")
	inner := errors.New("no such key: x")
	err := error(&EvalError{Source: `a.x == 1`, Err: inner})
	require.EqualError(t, err, "condition `a.x == 1`: no such key: x")
	require.ErrorIs(t, err, inner)
	require.EqualError(t, &ApplyError{Where: "transforms[0] (pass)", Message: "m"}, "transforms[0] (pass): m")
	require.EqualError(t, &ApplyError{Where: "w", Path: "a.b", Message: "m"}, "w at a.b: m")
	require.EqualError(t, &SpecError{Where: "transforms[1]", Message: "m"}, "transforms[1]: m")
}
