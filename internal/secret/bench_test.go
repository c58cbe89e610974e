package secret_test

import (
	"strings"
	"testing"

	"flowker/internal/secret"
)

// benchInput is a typical execution input: no secrets, so nothing to seal.
func benchInput() map[string]any {
	return map[string]any{"requestId": "0b6a3f2e-5d1c-4c8e-9f7a-2b3c4d5e6f70", "transactionType": "PIX", "amount": "1500.00",
		"currency": "BRL", "transactionTimestamp": "2026-01-15T10:30:00Z",
		"account":  map[string]any{"accountId": "7c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5", "type": "checking", "status": "active"},
		"merchant": map[string]any{"merchantId": "m1", "category": "5411", "country": "BR"},
		"metadata": map[string]any{"channel": "app"}}
}

func BenchmarkSealInput(b *testing.B) {
	bx, _ := secret.NewBox([]byte(strings.Repeat("k", 32)))
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = bx.Seal(in, "input", secret.Policy{})
	}
}

func BenchmarkOpenInput(b *testing.B) {
	bx, _ := secret.NewBox([]byte(strings.Repeat("k", 32)))
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = bx.Open(in, "input")
	}
}

// BenchmarkRedactCall: what a step's call details go through before they
// are stored: a provider's answer with nothing to hide.
func BenchmarkRedactCall(b *testing.B) {
	call := map[string]any{"request": map[string]any{"method": "POST", "url": "http://127.0.0.1:9000/v1/validations",
		"body": benchInput()}, "response": map[string]any{"status": 200, "body": map[string]any{
		"decision": "ALLOW", "validationId": "val-01a241f3-a421-78ee-9d31-5a48562a9ed1/tracer-validate",
		"processedAt": "2026-12-04T16:46:56.037900451Z", "riskScore": 12}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = secret.Redact(call)
	}
}
