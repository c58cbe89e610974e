package expr

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// typeName names a JSON-like value's type for messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, int, int64, int32, uint, uint64, uint32, json.Number:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// render is a value's text in a concatenation or UUID name: as Text, but
// arrays as their non-null elements joined (Kazaam's concat).
func render(v any) string {
	if a, ok := v.([]any); ok {
		var b strings.Builder
		for _, e := range a {
			if e != nil {
				b.WriteString(render(e))
			}
		}
		return b.String()
	}
	return Text(v)
}

// Text is a value's text where a string is wanted — a query parameter, a
// path placeholder, a reference inside a longer template string: strings
// as they are, numbers as JSON writes them (2500000, not fmt's 2.5e+06;
// 0.00005, not 5e-05), objects and arrays as JSON, null as "".
func Text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	}
	if f, ok := number(v); ok {
		return formatNumber(f)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(out)
}

// formatNumber writes f as encoding/json does, by asking it (so the two
// cannot drift): no exponent from 1e-6 up to 1e21 (12, 0.00005, 2500000),
// and past those a short one (1e-7, 1e+21). NaN and ±Inf, which JSON
// cannot hold, are written as strconv writes them.
func formatNumber(f float64) string {
	if out, err := json.Marshal(f); err == nil {
		return string(out)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// number converts the numeric types a Go-built document may hold.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// jsonEqual compares JSON-like values by content (numbers by value).
func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], bl[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			bv, found := bm[k]
			if !found || !jsonEqual(av, bv) {
				return false
			}
		}
		return true
	}
	an, aok := number(a)
	bn, bok := number(b)
	return aok && bok && an == bn
}

// DeepCopy copies objects and arrays (JSON-shaped values), so a value is
// never shared with one its owner may change: a literal from a compiled
// spec, an execution input handed to the engine.
func DeepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = DeepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = DeepCopy(e)
		}
		return out
	}
	return v
}
