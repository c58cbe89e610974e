package provider

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
)

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A base_url carrying a token as its user info (docs/security.md, rule 2:
// secret) must not come back in a connectivity test's result: net/http
// drops a URL's password from its errors, not its user name (found by a
// security hunt).
func TestConnTestHidesUserinfoToken(t *testing.T) {
	c := New(Options{AllowPrivate: true})
	res := c.Test(context.Background(), TestTarget{BaseURL: "http://tok-SECRET-123@" + closedPort(t) + "/"})
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), "tok-SECRET-123") {
		t.Fatalf("user-info token leaked in test result: %s", b)
	}
}
