package expr

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func opsDoc() map[string]any {
	return map[string]any{
		"customer": map[string]any{"name": "Ana", "cpf": "123.456.789-00", "tags": []any{"a", "b"}},
		"items": []any{
			map[string]any{"id": "i1", "secret": "s"},
			map[string]any{"id": "i2", "secret": "t"},
		},
		"extra":   map[string]any{"vip": true, "name": "Bia"},
		"created": "2024-05-01T12:30:00Z",
		"epoch":   1714566600.0,
		"empty":   nil,
		"n":       0.0,
	}
}

// with returns opsDoc changed by edit, for expected values.
func with(edit func(d map[string]any)) func() any {
	return func() any {
		d := opsDoc()
		edit(d)
		return d
	}
}

func customer(d map[string]any) map[string]any { return d["customer"].(map[string]any) }

func op(name string, spec map[string]any) Operation { return Operation{Operation: name, Spec: spec} }

func TestOperationsApply(t *testing.T) {
	t.Parallel()
	v5 := uuid.NewSHA1(uuid.NewSHA1(uuid.NameSpaceDNS, []byte("123.456.789-00")), []byte("x")).String()
	tests := []struct {
		name string
		ops  []Operation
		want func() any
	}{
		{"shift", []Operation{op("shift", map[string]any{
			"out.name": "customer.name", "ids": "items[*].id", "pair": []any{"customer.name", "missing"},
			"first": "items[0].id", "copy": "$"})},
			func() any {
				return map[string]any{"out": map[string]any{"name": "Ana"}, "ids": []any{"i1", "i2"},
					"pair": []any{"Ana", nil}, "first": "i1", "copy": opsDoc()}
			}},
		{"concat", []Operation{op("concat", map[string]any{"targetPath": "label", "delim": "|", "sources": []any{
			map[string]any{"path": "customer.name"}, map[string]any{"value": "-"}, map[string]any{"path": "customer.tags"},
			map[string]any{"path": "missing"}, map[string]any{"value": 7.0}, map[string]any{"path": "epoch"}}})},
			with(func(d map[string]any) { d["label"] = "Ana|-|ab||7|1714566600" })},
		{"coalesce", []Operation{op("coalesce", map[string]any{
			"contact": []any{"customer.phone", "empty", "n", "customer.name"}, "ignore": []any{0.0},
			"none": []any{"missing"}})},
			with(func(d map[string]any) { d["contact"] = "Ana" })},
		{"extract", []Operation{op("extract", map[string]any{"path": "customer"})},
			func() any { return customer(opsDoc()) }},
		{"extract missing", []Operation{op("extract", map[string]any{"path": "nope"})},
			func() any { return nil }},
		{"default", []Operation{op("default", map[string]any{"status": "new", "meta.source": "api", "customer.name": "X",
			"list[1]": true})},
			with(func(d map[string]any) {
				d["status"], d["meta"], d["list"] = "new", map[string]any{"source": "api"}, []any{nil, true}
				customer(d)["name"] = "X"
			})},
		{"delete", []Operation{op("delete", map[string]any{"paths": []any{
			"customer.cpf", "items[*].secret", "items[0]", "missing.x", "customer.name.first"}})},
			with(func(d map[string]any) {
				delete(customer(d), "cpf")
				d["items"] = []any{map[string]any{"id": "i2"}}
			})},
		{"pass", []Operation{op("pass", nil)}, func() any { return opsDoc() }},
		{"timestamp", []Operation{op("timestamp", map[string]any{
			"created": map[string]any{"inputFormat": time.RFC3339, "outputFormat": "2006-01-02"},
			"epoch":   map[string]any{"inputFormat": "$unix", "outputFormat": time.RFC3339},
			"missing": map[string]any{"inputFormat": time.RFC3339, "outputFormat": "2006"},
			"empty":   map[string]any{"inputFormat": time.RFC3339, "outputFormat": "2006"}})},
			with(func(d map[string]any) { d["created"], d["epoch"] = "2024-05-01", "2024-05-01T12:30:00Z" })},
		{"timestamp to unix", []Operation{op("timestamp", map[string]any{
			"created": map[string]any{"inputFormat": time.RFC3339, "outputFormat": "$unix"}})},
			with(func(d map[string]any) { d["created"] = "1714566600" })},
		{"uuid v5", []Operation{op("uuid", map[string]any{"ref": map[string]any{"version": 5.0, "namespace": "DNS",
			"names": []any{map[string]any{"path": "customer.cpf"}, map[string]any{"path": "missing", "default": "x"}}}})},
			with(func(d map[string]any) { d["ref"] = v5 })},
		{"merge", []Operation{op("merge", map[string]any{"customer": []any{"extra", "missing", "empty"}})},
			with(func(d map[string]any) { customer(d)["name"], customer(d)["vip"] = "Bia", true })},
		{"steps", []Operation{op("steps", map[string]any{"steps": []any{
			map[string]any{"operation": "shift", "spec": map[string]any{"n": "customer.name"}},
			map[string]any{"operation": "to_uppercase", "spec": map[string]any{"path": "n"}}}})},
			func() any { return map[string]any{"n": "ANA"} }},
		{"steps in Kazaam's shape", []Operation{op("steps", map[string]any{"steps": []any{
			map[string]any{"n": "customer.name"}, map[string]any{"m": "n"}}})},
			func() any { return map[string]any{"m": "Ana"} }},
		{"remove_characters", []Operation{op("remove_characters", map[string]any{"path": "customer.cpf", "characters": ".-"})},
			with(func(d map[string]any) { customer(d)["cpf"] = "12345678900" })},
		{"add_prefix and add_suffix", []Operation{
			op("add_prefix", map[string]any{"path": "customer.name", "prefix": "Sra. "}),
			op("add_suffix", map[string]any{"path": "customer.name", "suffix": "!"})},
			with(func(d map[string]any) { customer(d)["name"] = "Sra. Ana!" })},
		{"to_uppercase and to_lowercase", []Operation{
			op("to_uppercase", map[string]any{"path": "customer.tags[*]"}),
			op("to_lowercase", map[string]any{"path": "items[*].id"}),
			op("to_uppercase", map[string]any{"path": "items[0].secret"})},
			with(func(d map[string]any) {
				customer(d)["tags"] = []any{"A", "B"}
				d["items"].([]any)[0].(map[string]any)["secret"] = "S"
			})},
		{"string operations leave missing paths and non-strings alone", []Operation{
			op("to_uppercase", map[string]any{"path": "nope.deeper"}),
			op("to_uppercase", map[string]any{"path": "customer.name.first"}),
			op("add_prefix", map[string]any{"path": "n", "prefix": "x"}),
			op("add_suffix", map[string]any{"path": "empty", "suffix": "x"})},
			func() any { return opsDoc() }},
		{"mapping-style spec keys are ignored", []Operation{
			op("concat", map[string]any{"path": "ignored", "targetPath": "x", "sources": []any{map[string]any{"value": "v"}}})},
			with(func(d map[string]any) { d["x"] = "v" })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, err := CompileOperations(tc.ops)
			require.NoError(t, err)
			doc := opsDoc()
			got, err := tr.Apply(doc)
			require.NoError(t, err)
			require.Equal(t, tc.want(), got)
			require.Equal(t, opsDoc(), doc, "Apply must not mutate its input")
		})
	}
}

func TestOperationsGenerated(t *testing.T) {
	t.Parallel()
	tr, err := CompileOperations([]Operation{
		op("uuid", map[string]any{"id": map[string]any{"version": 4.0}, "items[*].id": map[string]any{"version": 4.0}}),
		op("timestamp", map[string]any{"at": map[string]any{"inputFormat": "$now", "outputFormat": time.RFC3339Nano},
			"unix": map[string]any{"inputFormat": "$now", "outputFormat": "$unix"}}),
	})
	require.NoError(t, err)
	before := time.Now().UTC()
	got, err := tr.Apply(opsDoc())
	require.NoError(t, err)
	d := got.(map[string]any)

	id, err := uuid.Parse(d["id"].(string))
	require.NoError(t, err)
	require.Equal(t, uuid.Version(4), id.Version())
	items := d["items"].([]any)
	require.NotEqual(t, items[0].(map[string]any)["id"], items[1].(map[string]any)["id"], "a wildcard writes one UUID per element")

	at, err := time.Parse(time.RFC3339Nano, d["at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, before, at, time.Minute)
	require.Regexp(t, `^\d{10}$`, d["unix"])
}

func TestOperationsApplyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ops     []Operation
		wantErr string
	}{
		{"shift require", []Operation{op("pass", nil), {Operation: "shift", Require: true,
			Spec: map[string]any{"x": "customer.name", "y": "customer.phone"}}},
			"transforms[1] (shift) at customer.phone: required path is missing"},
		{"shift require wildcard", []Operation{{Operation: "shift", Require: true, Spec: map[string]any{"x": "items[*].qty"}}},
			"transforms[0] (shift) at items[*].qty: required path is missing"},
		{"concat require", []Operation{{Operation: "concat", Require: true, Spec: map[string]any{
			"targetPath": "x", "sources": []any{map[string]any{"path": "nope"}}}}},
			"transforms[0] (concat) at nope: required path is missing"},
		{"coalesce require", []Operation{{Operation: "coalesce", Require: true,
			Spec: map[string]any{"contact": []any{"nope", "empty"}}}},
			"transforms[0] (coalesce) at contact: no candidate path has a value"},
		{"extract require", []Operation{{Operation: "extract", Require: true, Spec: map[string]any{"path": "nope.x"}}},
			"transforms[0] (extract) at nope.x: required path is missing"},
		{"delete require", []Operation{{Operation: "delete", Require: true, Spec: map[string]any{"paths": []any{"nope"}}}},
			"transforms[0] (delete) at nope: required path is missing"},
		{"timestamp require", []Operation{{Operation: "timestamp", Require: true, Spec: map[string]any{
			"nope": map[string]any{"inputFormat": "2006", "outputFormat": "2006"}}}},
			"transforms[0] (timestamp) at nope: required path is missing"},
		{"timestamp parse", []Operation{op("timestamp", map[string]any{
			"customer.name": map[string]any{"inputFormat": "2006", "outputFormat": "2006"}})},
			`transforms[0] (timestamp) at customer.name: cannot parse "Ana" with layout "2006"`},
		{"timestamp type", []Operation{op("timestamp", map[string]any{
			"extra": map[string]any{"inputFormat": "2006", "outputFormat": "2006"}})},
			"transforms[0] (timestamp) at extra: value is an object, not a time string"},
		{"timestamp array element", []Operation{op("timestamp", map[string]any{
			"customer.tags": map[string]any{"inputFormat": "$unix", "outputFormat": "2006"}})},
			"transforms[0] (timestamp) at customer.tags: [0]: a is not a unix time"},
		{"uuid name without default", []Operation{op("uuid", map[string]any{"id": map[string]any{
			"version": 3.0, "namespace": "OID", "names": []any{map[string]any{"path": "nope"}}}})},
			"transforms[0] (uuid) at nope: UUID name is missing and has no default"},
		{"merge non-object", []Operation{op("merge", map[string]any{"customer": []any{"n"}})},
			"transforms[0] (merge) at n: is a number, not an object"},
		{"write through a string", []Operation{op("default", map[string]any{"customer.name.first": "x"})},
			"transforms[0] (default) at customer.name.first: customer.name is a string, not an object"},
		{"write an index into an object", []Operation{op("default", map[string]any{"customer[0]": "x"})},
			"transforms[0] (default) at customer[0]: customer is an object, not an array"},
		{"nested steps name their place", []Operation{op("pass", nil), op("steps", map[string]any{"steps": []any{
			map[string]any{"operation": "pass"},
			map[string]any{"operation": "timestamp", "spec": map[string]any{
				"created": map[string]any{"inputFormat": "2006-01-02", "outputFormat": "2006"}}}}})},
			`transforms[1].steps[1] (timestamp) at created: cannot parse "2024-05-01T12:30:00Z" with layout "2006-01-02"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, err := CompileOperations(tc.ops)
			require.NoError(t, err)
			doc := opsDoc()
			_, err = tr.Apply(doc)
			var ae *ApplyError
			require.ErrorAs(t, err, &ae)
			require.EqualError(t, err, tc.wantErr)
			require.Equal(t, opsDoc(), doc, "a failed Apply must not mutate its input either")
		})
	}
}

func TestCompileOperationsErrors(t *testing.T) {
	t.Parallel()
	deep := map[string]any{"steps": []any{map[string]any{"operation": "pass"}}}
	for range maxStepsDepth {
		deep = map[string]any{"steps": []any{map[string]any{"operation": "steps", "spec": deep}}}
	}
	tests := []struct {
		name    string
		op      Operation
		wantErr string
	}{
		{"unknown", op("explode", nil), `transforms[1]: unknown operation "explode"`},
		{"shift empty", op("shift", nil), "transforms[1] (shift): spec must have at least one path entry"},
		{"shift source type", op("shift", map[string]any{"x": 1.0}),
			"transforms[1] (shift): spec.x must be a source path or an array of source paths"},
		{"shift bad source", op("shift", map[string]any{"x": "a[b]"}),
			`transforms[1] (shift): spec.x: bad path "a[b]": index "b" is not a non-negative integer or *`},
		{"shift wildcard target", op("shift", map[string]any{"x[*]": "a"}),
			"transforms[1] (shift): target x[*]: a wildcard [*] can only be read"},
		{"shift list entry", op("shift", map[string]any{"x": []any{"a", 2.0}}), "transforms[1] (shift): spec.x[1] must be a path string"},
		{"concat sources", op("concat", map[string]any{"targetPath": "x"}),
			"transforms[1] (concat): spec.sources must be a non-empty array of {path} or {value}"},
		{"concat source shape", op("concat", map[string]any{"targetPath": "x", "sources": []any{"a"}}),
			`transforms[1] (concat): spec.sources[0] must be {"path": string} or {"value": …}`},
		{"concat target", op("concat", map[string]any{"sources": []any{map[string]any{"value": "a"}}}),
			"transforms[1] (concat): spec.targetPath must be a non-empty string"},
		{"concat delim", op("concat", map[string]any{"targetPath": "x", "delim": 1.0, "sources": []any{map[string]any{"value": "a"}}}),
			"transforms[1] (concat): spec.delim must be a non-empty string"},
		{"coalesce list", op("coalesce", map[string]any{"x": "a"}), "transforms[1] (coalesce): spec.x must be a non-empty array of paths"},
		{"coalesce ignore", op("coalesce", map[string]any{"x": []any{"a"}, "ignore": "a"}),
			"transforms[1] (coalesce): spec.ignore must be an array of values"},
		{"extract path", op("extract", map[string]any{}), "transforms[1] (extract): spec.path must be a non-empty string"},
		{"default $", op("default", map[string]any{"$": 1.0}), "transforms[1] (default): target $: $ can only be read"},
		{"delete paths", op("delete", map[string]any{"paths": "a"}), "transforms[1] (delete): spec.paths must be a non-empty array of paths"},
		{"timestamp entry", op("timestamp", map[string]any{"x": "2006"}),
			"transforms[1] (timestamp): spec.x must be {inputFormat, outputFormat}"},
		{"timestamp input", op("timestamp", map[string]any{"x": map[string]any{"outputFormat": "2006"}}),
			"transforms[1] (timestamp): spec.x.inputFormat must be a non-empty string"},
		{"timestamp output", op("timestamp", map[string]any{"x": map[string]any{"inputFormat": "2006", "outputFormat": "$now"}}),
			"transforms[1] (timestamp): spec.x.outputFormat must be a layout or $unix"},
		{"uuid version", op("uuid", map[string]any{"x": map[string]any{"version": 6.0}}),
			"transforms[1] (uuid): spec.x.version must be 3, 4 or 5"},
		{"uuid namespace", op("uuid", map[string]any{"x": map[string]any{"version": 5.0, "namespace": "nope"}}),
			"transforms[1] (uuid): spec.x.namespace must be DNS, URL, OID, X500 or a UUID"},
		{"uuid names", op("uuid", map[string]any{"x": map[string]any{"version": 3.0, "namespace": "DNS"}}),
			"transforms[1] (uuid): spec.x.names must be a non-empty array of {path, default}"},
		{"uuid name shape", op("uuid", map[string]any{"x": map[string]any{"version": 3.0, "namespace": "DNS",
			"names": []any{map[string]any{"default": 1.0}}}}),
			"transforms[1] (uuid): spec.x.names[0] needs a path or a string default"},
		{"merge list", op("merge", map[string]any{"x": "a"}), "transforms[1] (merge): spec.x must be a non-empty array of paths"},
		{"steps missing", op("steps", map[string]any{}), "transforms[1] (steps): spec.steps must be a non-empty array of operations"},
		{"steps item", op("steps", map[string]any{"steps": []any{"shift"}}), "transforms[1] (steps): spec.steps[0] must be an object"},
		{"steps inner", op("steps", map[string]any{"steps": []any{map[string]any{"operation": "pass"},
			map[string]any{"operation": "add_prefix", "spec": map[string]any{"path": "a"}}}}),
			"transforms[1].steps[1] (add_prefix): spec.prefix must be a non-empty string"},
		{"steps too deep", op("steps", deep), fmt.Sprintf("steps nested deeper than %d", maxStepsDepth)},
		{"add_prefix", op("add_prefix", map[string]any{"path": "a"}), "transforms[1] (add_prefix): spec.prefix must be a non-empty string"},
		{"add_suffix", op("add_suffix", map[string]any{"path": "a", "suffix": ""}),
			"transforms[1] (add_suffix): spec.suffix must be a non-empty string"},
		{"remove_characters", op("remove_characters", map[string]any{"path": "a"}),
			"transforms[1] (remove_characters): spec.characters must be a non-blank string"},
		{"to_uppercase path", op("to_uppercase", nil), "transforms[1] (to_uppercase): spec.path must be a non-empty string"},
		{"to_lowercase $", op("to_lowercase", map[string]any{"path": "$"}), "transforms[1] (to_lowercase): spec.path: $ can only be read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := CompileOperations([]Operation{op("pass", nil), tc.op})
			var se *SpecError
			require.ErrorAs(t, err, &se)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestTransformResultsDoNotShareCompiledLiterals(t *testing.T) {
	t.Parallel()
	tr, err := CompileOperations([]Operation{op("default", map[string]any{"meta": map[string]any{"tags": []any{"a"}}})})
	require.NoError(t, err)
	first, err := tr.Apply(map[string]any{})
	require.NoError(t, err)
	first.(map[string]any)["meta"].(map[string]any)["tags"].([]any)[0] = "changed"
	second, err := tr.Apply(map[string]any{})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"meta": map[string]any{"tags": []any{"a"}}}, second)
}

func TestEmptyTransformReturnsDocument(t *testing.T) {
	t.Parallel()
	for _, tr := range []*Transform{nil, mustOps(t, nil)} {
		got, err := tr.Apply(opsDoc())
		require.NoError(t, err)
		require.Equal(t, opsDoc(), got)
	}
}

func mustOps(t *testing.T, ops []Operation) *Transform {
	t.Helper()
	tr, err := CompileOperations(ops)
	require.NoError(t, err)
	return tr
}

func TestTransformConcurrentApply(t *testing.T) {
	t.Parallel()
	tr, err := CompileMappingsAs("inputMapping", append(templateMappings(),
		FieldMapping{Source: "workflow.customer.cpf", Target: "account.document",
			Transformation: &Transformation{Type: "remove_characters", Config: map[string]any{"characters": ".-"}}}))
	require.NoError(t, err)
	doc := engineContext() // shared by every goroutine: Apply must only read it
	var wg sync.WaitGroup
	results := make([]any, 8)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				out, err := tr.Apply(doc)
				if err != nil {
					results[g] = err
					return
				}
				results[g] = out
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		require.Equal(t, results[0], r)
	}
	require.Equal(t, "12345678900", results[0].(map[string]any)["account"].(map[string]any)["document"])
	require.Equal(t, engineContext(), doc)
}
