package expr

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var testNodeIDs = []string{"webhook-trigger", "tracer-validate", "tracer-validate-2", "decision-check",
	"kyc", "aml", "a", "1st-check", "123", "if", "in"}

// testContext is a context shaped like the engine's: input, outputs by id
// and the nodes map.
func testContext() map[string]any {
	tracer := map[string]any{
		"status": 200.0,
		"body":   map[string]any{"decision": "ALLOW", "riskScore": 12.5, "reasons": []any{"ok"}},
	}
	tracer2 := map[string]any{"body": map[string]any{"x": 2.0}}
	kyc := map[string]any{"result": map[string]any{"riskScore": 40.0}}
	aml := map[string]any{"body": map[string]any{"status": "cleared"}}
	return map[string]any{
		"workflow": map[string]any{
			"score": 80.0, "status": "approved", "enabled": true, "name": "Ana Maria",
			"amount": 120.0, "items": []any{1.0, 2.0, 3.0}, "tags": map[string]any{"vip": true},
			"text": "x AND y OR NOT z",
		},
		"output": map[string]any{},
		"kyc":    kyc,
		"aml":    aml,
		"a":      2.0,
		"nodes": map[string]any{
			"tracer-validate": tracer, "tracer-validate-2": tracer2, "kyc": kyc, "aml": aml,
			"1st-check": map[string]any{"ok": true}, "if": map[string]any{"ok": true},
		},
	}
}

func TestConditionCELForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want bool
	}{
		{`workflow.score > 70 && workflow.status == "approved"`, true},
		{`workflow.score > 90 || workflow.enabled`, true},
		{`!workflow.enabled`, false},
		{`workflow.status in ["approved", "pending"]`, true},
		{`"vip" in workflow.tags`, true},
		{`has(workflow.tags.vip) && !has(workflow.missing)`, true},
		{`has(nodes["tracer-validate"].body.decision)`, true},
		{`size(workflow.items) == 3 && size(workflow.name) == 9`, true},
		{`workflow.amount * 2.0 - 40.0 == 200.0`, true},
		{`int(workflow.amount) % 7 == 1`, true},
		{`workflow.score >= 80 && workflow.score <= 80.0 && workflow.score != 79`, true},
		{`workflow.name.startsWith("Ana") && workflow.name.endsWith("Maria") && workflow.name.contains(" ")`, true},
		{`workflow.name.matches("^A.a M") && workflow.name.lowerAscii() == "ana maria"`, true},
		{`workflow.items.exists(i, i > 2.0) && workflow.items.all(i, i > 0.0)`, true},
		{`workflow.score > 70 ? workflow.enabled : false`, true},
		{`nodes["tracer-validate"].status == 200`, true},
		{`kyc.result.riskScore < 50`, true},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			t.Parallel()
			c, err := CompileCondition(tc.src, testNodeIDs)
			require.NoError(t, err)
			got, err := c.Eval(testContext())
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestConditionReferenceDialect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src     string
		wantCEL string
		vars    func(map[string]any)
		want    bool
	}{
		// flowker-engine.md §3.4
		{src: `workflow.score > 70`, wantCEL: `workflow.score > 70`, want: true},
		{src: `workflow.status == "approved"`, wantCEL: `workflow.status == "approved"`, want: true},
		{src: `workflow.status == 'approved'`, wantCEL: `workflow.status == 'approved'`, want: true},
		{src: `kyc.result.riskScore < 50 AND aml.body.status == "cleared"`,
			wantCEL: `kyc.result.riskScore < 50 && aml.body.status == "cleared"`, want: true},
		{src: `a > 1 AND a < 3 OR a == 5`, wantCEL: `a > 1 && a < 3 || a == 5`, want: true},
		{src: `a > 1 AND a < 3 OR a == 5`, vars: func(v map[string]any) { v["a"] = 5.0 }, want: true},
		{src: `a > 1 AND a < 3 OR a == 5`, vars: func(v map[string]any) { v["a"] = 4.0 }, want: false},
		{src: `a == 5 OR a > 1 AND a < 3`, vars: func(v map[string]any) { v["a"] = 2.0 }, want: true},
		{src: `workflow.enabled`, wantCEL: `workflow.enabled`, want: true},
		{src: `tracer-validate.body.decision == "ALLOW"`,
			wantCEL: `nodes["tracer-validate"].body.decision == "ALLOW"`, want: true},
		// Spacing, NOT, longest id first, ids CEL cannot name.
		{src: "a>1  AND\ta<3", wantCEL: "a>1  &&\ta<3", want: true},
		{src: "a > 1\nAND a < 3", wantCEL: "a > 1\n&& a < 3", want: true},
		{src: `NOT workflow.enabled OR NOT(a == 2)`, wantCEL: `! workflow.enabled || !(a == 2)`, want: false},
		{src: `tracer-validate-2.body.x == 2 AND tracer-validate.body.riskScore < 20`,
			wantCEL: `nodes["tracer-validate-2"].body.x == 2 && nodes["tracer-validate"].body.riskScore < 20`, want: true},
		{src: `(tracer-validate.status == 200)AND(1st-check.ok)`,
			wantCEL: `(nodes["tracer-validate"].status == 200)&&(nodes["1st-check"].ok)`, want: true},
		{src: `if.ok AND 123 == 123`, wantCEL: `nodes["if"].ok && 123 == 123`, want: true},
		{src: `2.0 in workflow.items`, wantCEL: `2.0 in workflow.items`, want: true},
		// Words that only look like operators stay.
		{src: `has(workflow.ANDROID) OR has(workflow.OR)`, wantCEL: `has(workflow.ANDROID) || has(workflow.OR)`, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			t.Parallel()
			c, err := CompileCondition(tc.src, testNodeIDs)
			require.NoError(t, err)
			if tc.wantCEL != "" {
				require.Equal(t, tc.wantCEL, c.CEL())
			}
			require.Equal(t, tc.src, c.Source())
			vars := testContext()
			if tc.vars != nil {
				tc.vars(vars)
			}
			got, err := c.Eval(vars)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestConditionLeavesStringsAndCommentsAlone(t *testing.T) {
	t.Parallel()
	tests := []string{
		`workflow.text == "x AND y OR NOT z"`,
		`workflow.text == 'x AND y OR NOT z'`,
		`workflow.text == """x AND y OR NOT z"""`,
		`workflow.text == r"x AND y OR NOT z"`,
		`workflow.text != "tracer-validate.body AND \" OR x"`,
		"workflow.text == \"x AND y OR NOT z\" // AND tracer-validate OR",
	}
	for _, src := range tests {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			c, err := CompileCondition(src, testNodeIDs)
			require.NoError(t, err)
			require.Equal(t, src, c.CEL())
			got, err := c.Eval(testContext())
			require.NoError(t, err)
			require.True(t, got)
		})
	}
}

func TestConditionCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		src        string
		wantMsg    string
		line, col  int
		nodeIDsNil bool
	}{
		{name: "empty", src: "", wantMsg: "empty expression", line: 1, col: 1},
		{name: "blank", src: " \n\t", wantMsg: "empty expression", line: 1, col: 1},
		{name: "undeclared node after AND", src: `workflow.a == 1 AND kyc2.x == 2`,
			wantMsg: "undeclared reference to 'kyc2'", line: 1, col: 21},
		{name: "undeclared after a rewritten id", src: `tracer-validate.body.x == 1 AND kyc2.x == 2`,
			wantMsg: "undeclared reference to 'kyc2'", line: 1, col: 33},
		{name: "undeclared hyphenated id", src: `workflow.a == 1 OR fraud-check.body.ok`,
			wantMsg: "undeclared reference to 'fraud'", line: 1, col: 20},
		{name: "syntax error in the middle", src: `tracer-validate.body.decision == == "ALLOW"`,
			wantMsg: "Syntax error", line: 1, col: 34},
		{name: "syntax error on a later line", src: "workflow.a == 1 AND\n  workflow.b == )",
			wantMsg: "Syntax error", line: 2, col: 17},
		{name: "columns count code points", src: `workflow.n == "ção" AND kyc2`,
			wantMsg: "undeclared reference to 'kyc2'", line: 1, col: 25},
		{name: "no node ids", src: `kyc.x == 1`, nodeIDsNil: true,
			wantMsg: "undeclared reference to 'kyc'", line: 1, col: 1},
		{name: "not a bool", src: `  1 + 2`, wantMsg: "condition must evaluate to bool, not int", line: 1, col: 3},
		{name: "not a bool string", src: `"yes"`, wantMsg: "not string", line: 1, col: 1},
		{name: "unterminated string", src: `workflow.a == "AND`, wantMsg: "Syntax error", line: 1, col: 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ids := testNodeIDs
			if tc.nodeIDsNil {
				ids = nil
			}
			_, err := CompileCondition(tc.src, ids)
			var ce *CompileError
			require.ErrorAs(t, err, &ce)
			require.Contains(t, ce.Message, tc.wantMsg)
			require.Equal(t, tc.line, ce.Line, "line of %v", ce)
			require.Equal(t, tc.col, ce.Column, "column of %v", ce)
		})
	}
}

func TestConditionEvalErrors(t *testing.T) {
	t.Parallel()
	bigList := make([]any, 1000)
	for i := range bigList {
		bigList[i] = float64(i)
	}
	tests := []struct {
		name    string
		src     string
		wantErr string
	}{
		{"missing key", `workflow.missing == 1`, "no such key: missing"},
		{"missing node output", `nodes["decision-check"].body.x == 1`, "no such key: decision-check"},
		{"node variable not in context", `aml.body.status == "x" && webhook_trigger == 1`, "undeclared"},
		{"no such overload", `workflow.name > 5`, "no such overload"},
		{"cost limit", `workflow.big.all(x, workflow.big.all(y, x + y >= 0.0))`, "cost limit exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := CompileCondition(tc.src, testNodeIDs)
			if tc.wantErr == "undeclared" { // a compile-time error, not an eval one
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			vars := testContext()
			vars["workflow"].(map[string]any)["big"] = bigList
			_, err = c.Eval(vars)
			var ee *EvalError
			require.ErrorAs(t, err, &ee)
			require.Equal(t, tc.src, ee.Source)
			require.ErrorContains(t, err, tc.wantErr)
			require.ErrorContains(t, err, tc.src)
		})
	}

	t.Run("declared node without output", func(t *testing.T) {
		t.Parallel()
		c, err := CompileCondition(`kyc.result.riskScore < 50`, testNodeIDs)
		require.NoError(t, err)
		_, err = c.Eval(map[string]any{"workflow": map[string]any{}, "nodes": map[string]any{}})
		require.ErrorContains(t, err, "kyc")
	})
	t.Run("short circuit hides an error either way round", func(t *testing.T) {
		t.Parallel()
		for _, src := range []string{`workflow.missing > 1 OR workflow.score > 1`, `workflow.score > 1 OR workflow.missing > 1`} {
			c, err := CompileCondition(src, testNodeIDs)
			require.NoError(t, err)
			got, err := c.Eval(testContext())
			require.NoError(t, err)
			require.True(t, got)
		}
	})
}

func TestConditionTruthiness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value any
		want  bool
	}{
		{"null", nil, false},
		{"empty string", "", false},
		{"false string", "false", false},
		{"FALSE string", "FALSE", false},
		{"other string", "no", true},
		{"zero", 0.0, false},
		{"non-zero", 1.5, true},
		{"int zero", 0, false},
		{"int64", int64(3), true},
		{"uint zero", uint(0), false},
		{"object", map[string]any{}, true},
		{"array", []any{}, true},
		{"true", true, true},
		{"false", false, false},
	}
	c, err := CompileCondition(`workflow.v`, nil)
	require.NoError(t, err)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Eval(map[string]any{"workflow": map[string]any{"v": tc.value}})
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestConditionIgnoresReservedAndDuplicateIDs(t *testing.T) {
	t.Parallel()
	c, err := CompileCondition(`workflow.score > 1 AND kyc.result.riskScore > 1`,
		[]string{"workflow", "output", "nodes", "kyc", "kyc", "AND", "true"})
	require.NoError(t, err)
	got, err := c.Eval(testContext())
	require.NoError(t, err)
	require.True(t, got)
}

func TestConditionConcurrentEval(t *testing.T) {
	t.Parallel()
	c, err := CompileCondition(`tracer-validate.body.decision == "ALLOW" AND workflow.score > 70`, testNodeIDs)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vars := testContext()
			if g%2 == 1 {
				vars["workflow"] = map[string]any{"score": 10.0}
			}
			for range 200 {
				got, err := c.Eval(vars)
				if err != nil || got != (g%2 == 0) {
					errs <- errors.Join(err, errors.New("unexpected result"))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestTranslateDialectPositions(t *testing.T) {
	t.Parallel()
	src := "tracer-validate.x AND\nb"
	tr := translateDialect(src, rewriteIDs(testNodeIDs))
	require.Equal(t, "nodes[\"tracer-validate\"].x &&\nb", tr.cel)
	require.Len(t, tr.origAt, len(tr.cel)+1)
	// Every byte of the synthesized nodes["…"] maps to the id's start.
	line, col := tr.originalPosition(1, 5)
	require.Equal(t, []int{1, 1}, []int{line, col})
	line, col = tr.originalPosition(1, strings.Index(tr.cel, ".x")+1)
	require.Equal(t, []int{1, 17}, []int{line, col})
	line, col = tr.originalPosition(2, 0)
	require.Equal(t, []int{2, 1}, []int{line, col})
}

func TestConditionConcurrentCompile(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := testNodeIDs
			if g%2 == 0 {
				ids = nil // the base environment, shared
			}
			if _, err := CompileCondition(`workflow.score > 70 AND has(workflow.name)`, ids); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
