package expr

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// engineContext is an execution context as the engine builds it.
func engineContext() map[string]any {
	return map[string]any{
		"workflow": map[string]any{
			"requestId": "req-1", "transactionType": "PIX", "amount": 150.5, "currency": "BRL",
			"transactionTimestamp": "2024-05-01T12:30:00Z",
			"account":              map[string]any{"id": "acc-9", "branch": "0001"},
			"customer":             map[string]any{"cpf": "123.456.789-00", "name": "Ana Maria", "email": "Ana@Example.com"},
			"items":                []any{map[string]any{"id": "i1", "qty": 1.0}, map[string]any{"id": "i2"}, map[string]any{"id": "i3", "qty": 3.0}},
			"_webhook":             map[string]any{"method": "POST", "headers": map[string]any{"X-Trace": "t-1"}},
		},
		"tracer-validate": map[string]any{"status": 200.0, "body": map[string]any{"decision": "ALLOW"}},
	}
}

func templateMappings() []FieldMapping {
	return []FieldMapping{
		{Source: "workflow.requestId", Target: "requestId"},
		{Source: "workflow.transactionType", Target: "transactionType"},
		{Source: "workflow.amount", Target: "amount"},
		{Source: "workflow.currency", Target: "currency"},
		{Source: "workflow.transactionTimestamp", Target: "transactionTimestamp"},
		{Source: "workflow.account", Target: "account"},
	}
}

func TestMappingsApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mappings []FieldMapping
		want     any
	}{
		{"template", templateMappings(), map[string]any{
			"requestId": "req-1", "transactionType": "PIX", "amount": 150.5, "currency": "BRL",
			"transactionTimestamp": "2024-05-01T12:30:00Z", "account": map[string]any{"id": "acc-9", "branch": "0001"},
		}},
		{"missing non-required source is null", []FieldMapping{
			{Source: "workflow.customer.cpf", Target: "document", Required: true},
			{Source: "workflow.customer.phone", Target: "phone"},
		}, map[string]any{"document": "123.456.789-00", "phone": nil}},
		{"nested targets and indexes", []FieldMapping{
			{Source: "workflow.customer.cpf", Target: "provider.document"},
			{Source: "workflow.customer.name", Target: "provider.holder.name"},
			{Source: "workflow.items[1].id", Target: "lines[1]"},
			{Source: "tracer-validate.body.decision", Target: "decision"},
		}, map[string]any{
			"provider": map[string]any{"document": "123.456.789-00", "holder": map[string]any{"name": "Ana Maria"}},
			"lines":    []any{nil, "i2"},
			"decision": "ALLOW",
		}},
		{"wildcard", []FieldMapping{{Source: "workflow.items[*].qty", Target: "qtys"}},
			map[string]any{"qtys": []any{1.0, nil, 3.0}}},
		{"whole document", []FieldMapping{{Source: "$", Target: "ctx.all"}},
			map[string]any{"ctx": map[string]any{"all": engineContext()}}},
		{"duplicate target: last wins", []FieldMapping{
			{Source: "workflow.currency", Target: "x"}, {Source: "workflow.requestId", Target: "x"},
		}, map[string]any{"x": "req-1"}},
		{"target under a mapped object copies it", []FieldMapping{
			{Source: "workflow.account", Target: "account"}, {Source: "workflow.currency", Target: "account.currency"},
		}, map[string]any{"account": map[string]any{"id": "acc-9", "branch": "0001", "currency": "BRL"}}},
		{"transformations run in order after the shift", []FieldMapping{
			{Source: "workflow.customer.cpf", Target: "document", Transformation: &Transformation{
				Type: "remove_characters", Config: map[string]any{"characters": ".-"}}},
			{Source: "workflow.customer.name", Target: "name", Transformation: &Transformation{Type: "to_uppercase"}},
			{Source: "workflow.customer.email", Target: "email", Transformation: &Transformation{Type: "to_lowercase"}},
			{Source: "workflow.account.id", Target: "account", Transformation: &Transformation{
				Type: "add_prefix", Config: map[string]any{"prefix": "BR-"}}},
			{Source: "workflow.currency", Target: "currency", Transformation: &Transformation{
				Type: "add_suffix", Config: map[string]any{"suffix": "!"}}},
			{Source: "workflow.transactionTimestamp", Target: "date", Transformation: &Transformation{
				Type: "timestamp", Config: map[string]any{"inputFormat": "2006-01-02T15:04:05Z07:00", "outputFormat": "02/01/2006"}}},
			{Source: "workflow.requestId", Target: "label", Transformation: &Transformation{
				Type: "concat", Config: map[string]any{"sources": []any{map[string]any{"path": "label"}, map[string]any{"value": "x"}},
					"targetPath": "label", "delim": "/"}}},
		}, map[string]any{
			"document": "12345678900", "name": "ANA MARIA", "email": "ana@example.com", "account": "BR-acc-9",
			"currency": "BRL!", "date": "01/05/2024", "label": "req-1/x",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, err := CompileMappingsAs("inputMapping", tc.mappings)
			require.NoError(t, err)
			doc := engineContext()
			got, err := tr.Apply(doc)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, engineContext(), doc, "Apply must not mutate its input")
		})
	}
}

func TestMappingsTransformationsKeyedByPath(t *testing.T) {
	t.Parallel()
	tr, err := CompileMappingsAs("outputMapping", []FieldMapping{
		{Source: "workflow.customer.cpf", Target: "ref", Transformation: &Transformation{
			Type: "uuid", Config: map[string]any{"version": 5.0, "namespace": "URL",
				"names": []any{map[string]any{"path": "ref"}}}}},
		{Source: "workflow.customer.phone", Target: "phone", Transformation: &Transformation{
			Type: "coalesce", Config: map[string]any{"phone": []any{"phone", "ref"}}}},
		{Source: "workflow.amount", Target: "amount", Transformation: &Transformation{
			Type: "default", Config: map[string]any{"fixed": "yes"}}},
	})
	require.NoError(t, err)
	got, err := tr.Apply(engineContext())
	require.NoError(t, err)
	want := uuid.NewSHA1(uuid.NameSpaceURL, []byte("123.456.789-00")).String()
	require.Equal(t, map[string]any{"ref": want, "phone": want, "amount": 150.5, "fixed": "yes"}, got)
}

func TestMappingsRequiredIsPerField(t *testing.T) {
	t.Parallel()
	mappings := []FieldMapping{
		{Source: "workflow.requestId", Target: "id", Required: true},
		{Source: "workflow.optional", Target: "opt"},
		{Source: "workflow.customer.cpf", Target: "document", Required: true},
	}
	tr, err := CompileMappingsAs("inputMapping", mappings)
	require.NoError(t, err)

	got, err := tr.Apply(engineContext())
	require.NoError(t, err, "a missing non-required source must not fail the list")
	require.Equal(t, map[string]any{"id": "req-1", "opt": nil, "document": "123.456.789-00"}, got)

	for name, customer := range map[string]any{"missing": map[string]any{}, "null": map[string]any{"cpf": nil}} {
		doc := engineContext()
		doc["workflow"].(map[string]any)["customer"] = customer
		_, err = tr.Apply(doc)
		var ae *ApplyError
		require.ErrorAs(t, err, &ae, name)
		require.EqualError(t, err, "inputMapping[2] (workflow.customer.cpf → document): required source is missing", name)
	}

	tr, err = CompileMappings([]FieldMapping{{Source: "workflow.items[*].qty", Target: "q", Required: true}})
	require.NoError(t, err)
	_, err = tr.Apply(engineContext())
	require.EqualError(t, err, "mapping[0] (workflow.items[*].qty → q): required source is missing",
		"a required wildcard needs every element")
}

func TestMappingsApplyErrors(t *testing.T) {
	t.Parallel()
	tr, err := CompileMappingsAs("inputMapping", []FieldMapping{
		{Source: "workflow.currency", Target: "a"},
		{Source: "workflow.amount", Target: "a.b"},
	})
	require.NoError(t, err)
	_, err = tr.Apply(engineContext())
	require.EqualError(t, err, "inputMapping[1] (workflow.amount → a.b) at a.b: a is a string, not an object")

	tr, err = CompileMappingsAs("inputMapping", []FieldMapping{
		{Source: "workflow.transactionType", Target: "when", Transformation: &Transformation{
			Type: "timestamp", Config: map[string]any{"inputFormat": "2006-01-02", "outputFormat": "$unix"}}},
	})
	require.NoError(t, err)
	_, err = tr.Apply(engineContext())
	require.EqualError(t, err, `inputMapping[0].transformation (timestamp) at when: cannot parse "PIX" with layout "2006-01-02"`)
}

func TestCompileMappingsErrors(t *testing.T) {
	t.Parallel()
	ok := FieldMapping{Source: "workflow.a", Target: "a"}
	tests := []struct {
		name    string
		bad     FieldMapping
		wantErr string
	}{
		{"empty source", FieldMapping{Target: "x"}, "inputMapping[1].source: must be a non-empty string"},
		{"empty target", FieldMapping{Source: "x"}, "inputMapping[1].target: must be a non-empty string"},
		{"bad source path", FieldMapping{Source: "a..b", Target: "x"}, `inputMapping[1].source: bad path "a..b": empty key`},
		{"bad index", FieldMapping{Source: "a[x]", Target: "x"}, `inputMapping[1].source: bad path "a[x]": index "x" is not a non-negative integer or *`},
		{"unclosed bracket", FieldMapping{Source: "a[0", Target: "x"}, `inputMapping[1].source: bad path "a[0": expected [index] or [*] in "a[0"`},
		{"huge index", FieldMapping{Source: "a", Target: "x[99999999]"}, `inputMapping[1].target: bad path "x[99999999]": index 99999999 exceeds 10000`},
		{"target $", FieldMapping{Source: "a", Target: "$"}, "inputMapping[1].target: $ can only be read"},
		{"target wildcard", FieldMapping{Source: "a", Target: "x[*].y"}, "inputMapping[1].target: a wildcard [*] can only be read"},
		{"empty transformation type", FieldMapping{Source: "a", Target: "x", Transformation: &Transformation{}},
			"inputMapping[1].transformation.type: must be a non-empty string"},
		{"unknown transformation", FieldMapping{Source: "a", Target: "x", Transformation: &Transformation{Type: "reverse"}},
			`inputMapping[1].transformation: unknown operation "reverse"`},
		{"add_prefix without prefix", FieldMapping{Source: "a", Target: "x", Transformation: &Transformation{Type: "add_prefix"}},
			"inputMapping[1].transformation (add_prefix): spec.prefix must be a non-empty string"},
		{"blank characters", FieldMapping{Source: "a", Target: "x", Transformation: &Transformation{
			Type: "remove_characters", Config: map[string]any{"characters": "  "}}},
			"inputMapping[1].transformation (remove_characters): spec.characters must be a non-blank string"},
		{"shift without config", FieldMapping{Source: "a", Target: "x", Transformation: &Transformation{Type: "shift"}},
			"inputMapping[1].transformation (shift): spec must have at least one path entry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := CompileMappingsAs("inputMapping", []FieldMapping{ok, tc.bad})
			var se *SpecError
			require.ErrorAs(t, err, &se)
			require.EqualError(t, err, tc.wantErr)
		})
	}
}

func TestParseMappings(t *testing.T) {
	t.Parallel()
	got, err := ParseMappingsAs("inputMapping", []any{
		map[string]any{"source": "workflow.a", "target": "a", "id": "ignored"},
		map[string]any{"source": "workflow.b", "target": "b", "required": true,
			"transformation": map[string]any{"type": "add_prefix", "config": map[string]any{"prefix": "x"}}},
	})
	require.NoError(t, err)
	require.Equal(t, []FieldMapping{
		{Source: "workflow.a", Target: "a"},
		{Source: "workflow.b", Target: "b", Required: true,
			Transformation: &Transformation{Type: "add_prefix", Config: map[string]any{"prefix": "x"}}},
	}, got)

	empty, err := ParseMappings(nil)
	require.NoError(t, err)
	require.Empty(t, empty)

	good := map[string]any{"source": "s", "target": "t"}
	tests := []struct {
		name    string
		raw     any
		wantErr string
	}{
		{"not an array", map[string]any{}, "inputMapping: must be an array"},
		{"item not an object", []any{good, "x"}, "inputMapping[1]: must be an object"},
		{"missing target", []any{good, map[string]any{"source": "s"}}, "inputMapping[1].target: must be a non-empty string"},
		{"empty source", []any{map[string]any{"source": "", "target": "t"}}, "inputMapping[0].source: must be a non-empty string"},
		{"target not a string", []any{map[string]any{"source": "s", "target": 3.0}}, "inputMapping[0].target: must be a non-empty string"},
		{"required not a bool", []any{map[string]any{"source": "s", "target": "t", "required": "yes"}},
			"inputMapping[0].required: must be a boolean"},
		{"transformation not an object", []any{map[string]any{"source": "s", "target": "t", "transformation": "x"}},
			"inputMapping[0].transformation: must be an object"},
		{"transformation without type", []any{map[string]any{"source": "s", "target": "t", "transformation": map[string]any{}}},
			"inputMapping[0].transformation.type: must be a non-empty string"},
		{"config not an object", []any{map[string]any{"source": "s", "target": "t",
			"transformation": map[string]any{"type": "pass", "config": []any{}}}},
			"inputMapping[0].transformation.config: must be an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseMappingsAs("inputMapping", tc.raw)
			var se *SpecError
			require.ErrorAs(t, err, &se)
			require.EqualError(t, err, tc.wantErr)
		})
	}
}

func TestParseOperations(t *testing.T) {
	t.Parallel()
	got, err := ParseOperations([]any{
		map[string]any{"operation": "pass"},
		map[string]any{"operation": "delete", "spec": map[string]any{"paths": []any{"a"}}, "require": true},
	})
	require.NoError(t, err)
	require.Equal(t, []Operation{
		{Operation: "pass"},
		{Operation: "delete", Spec: map[string]any{"paths": []any{"a"}}, Require: true},
	}, got)

	tests := []struct {
		name    string
		raw     any
		wantErr string
	}{
		{"not an array", "shift", "transforms: must be an array"},
		{"item not an object", []any{nil}, "transforms[0]: must be an object"},
		{"missing operation", []any{map[string]any{"spec": map[string]any{}}}, "transforms[0].operation: must be a non-empty string"},
		{"spec not an object", []any{map[string]any{"operation": "shift", "spec": []any{}}}, "transforms[0].spec: must be an object"},
		{"require not a bool", []any{map[string]any{"operation": "shift", "require": 1.0}}, "transforms[0].require: must be a boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseOperations(tc.raw)
			require.EqualError(t, err, tc.wantErr)
		})
	}
}
