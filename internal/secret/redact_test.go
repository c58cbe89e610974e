package secret_test

import (
	"net/url"
	"strings"
	"testing"

	"flowker/internal/secret"
)

// A password holding '@' (valid in Go's userinfo; net/url parses it, using
// the last '@') must be hidden whole by the text rules (found by a security hunt: the
// rule stopped at the first '@').
func TestRedactTextHidesAPasswordWithAt(t *testing.T) {
	raw := "http://svc:p@ss-SECRET-tail@127.0.0.1:8080/v1/x"
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	if pw != "p@ss-SECRET-tail" || u.Host != "127.0.0.1:8080" {
		t.Fatalf("parse: %q %q", pw, u.Host)
	}
	got := secret.RedactText(raw)
	if strings.Contains(got, "SECRET-tail") {
		t.Fatalf("RedactText(%q) = %q: part of the password survives", raw, got)
	}
	if got := secret.Redact(map[string]any{"target": raw}); strings.Contains(toS(got), "SECRET-tail") {
		t.Fatalf("Redact left %v", got)
	}
}

func toS(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["target"].(string)
	return s
}
