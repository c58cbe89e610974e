package secret_test

import (
	"net/url"
	"strings"
	"testing"

	"flowker/internal/secret"
)

// A password holding an apostrophe (a sub-delim, valid in userinfo; net/url
// parses it) is hidden by the text rules as one holding '@' is: the rule
// stopped its run at the apostrophe, found no '@' and hid nothing (found by
// a defect hunt).
func TestRedactTextHidesAPasswordWithApostrophe(t *testing.T) {
	t.Parallel()
	raw := "http://svc:pa'ss-SECRET-tail@127.0.0.1:8080/v1/x"
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); pw != "pa'ss-SECRET-tail" || u.Host != "127.0.0.1:8080" {
		t.Fatalf("parse: %q %q", pw, u.Host)
	}
	if got := secret.RedactText("call failed: " + raw); strings.Contains(got, "SECRET-tail") {
		t.Errorf("RedactText left the password: %q", got)
	}
	got := secret.Redact(map[string]any{"target": raw})
	if s, _ := got.(map[string]any)["target"].(string); strings.Contains(s, "SECRET-tail") {
		t.Errorf("Redact left the password: %q", s)
	}
}
