package expr

import (
	"testing"
)

// benchContext is the context the template's decision-check node sees: the
// webhook input and the Tracer executor's response envelope.
func benchContext() map[string]any {
	tracer := map[string]any{
		"status": 200.0, "status_text": "200 OK", "url": "https://tracer.example.com/v1/validations",
		"headers": map[string]any{"Content-Type": "application/json", "X-Request-Id": "5f0c3a"},
		"body": map[string]any{
			"decision": "ALLOW", "riskScore": 12.0, "validationId": "b3c1f0d2-7a43-4c1e-9a43-5d2f8e1c0a77",
			"reasons": []any{map[string]any{"code": "LIMIT_OK", "message": "within limits"}},
		},
	}
	return map[string]any{
		"workflow": map[string]any{
			"requestId": "req-123", "transactionType": "PIX", "amount": 1500.25, "currency": "BRL",
			"transactionTimestamp": "2024-05-01T12:30:00Z",
			"account":              map[string]any{"id": "acc-9", "branch": "0001", "holder": "Ana Maria"},
			"transaction":          map[string]any{"send": map[string]any{"asset": "BRL", "value": 1500.25}},
			"_webhook": map[string]any{"method": "POST", "path": "/hooks/tx", "remote_ip": "10.0.0.1",
				"headers": map[string]any{"Content-Type": "application/json", "User-Agent": "bench"},
				"query":   map[string]any{}},
		},
		"output":          map[string]any{},
		"tracer-validate": tracer,
		"nodes":           map[string]any{"tracer-validate": tracer},
	}
}

func BenchmarkConditionEval(b *testing.B) {
	c, err := CompileCondition(`tracer-validate.body.decision == "ALLOW"`,
		[]string{"webhook-trigger", "tracer-validate", "decision-check", "midaz-create-tx"})
	if err != nil {
		b.Fatal(err)
	}
	vars := benchContext()
	b.ReportAllocs()
	for b.Loop() {
		ok, err := c.Eval(vars)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkConditionCompile(b *testing.B) {
	ids := []string{"webhook-trigger", "tracer-validate", "decision-check", "midaz-create-tx"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileCondition(`tracer-validate.body.decision == "ALLOW"`, ids); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMappingApply(b *testing.B) {
	tr, err := CompileMappingsAs("inputMapping", templateMappings())
	if err != nil {
		b.Fatal(err)
	}
	doc := benchContext()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Apply(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMappingApplyWithTransformations adds per-field transformations
// to the template's mapping (three in-place writes after the shift).
func BenchmarkMappingApplyWithTransformations(b *testing.B) {
	m := templateMappings()
	m[0].Transformation = &Transformation{Type: "to_uppercase"}
	m[1].Transformation = &Transformation{Type: "add_prefix", Config: map[string]any{"prefix": "TX-"}}
	m[4].Transformation = &Transformation{Type: "timestamp",
		Config: map[string]any{"inputFormat": "2006-01-02T15:04:05Z07:00", "outputFormat": "2006-01-02"}}
	tr, err := CompileMappingsAs("inputMapping", m)
	if err != nil {
		b.Fatal(err)
	}
	doc := benchContext()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Apply(doc); err != nil {
			b.Fatal(err)
		}
	}
}
