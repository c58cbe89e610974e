package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A provider configuration's base_url with a token as its user info is a
// secret (docs/security.md, "What is secret", rule 2): masked on GET, it
// must not come back in the connectivity test's answer either (found by a
// security hunt: a failed stage's error carried it).
func TestProviderTestHidesUserinfoToken(t *testing.T) {
	h := newHarness(t, allowPrivate)
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	const tok = "tokSECRET0123456789"
	id := h.createProvider(tracerBody("ui-leak", "http://"+tok+"@"+addr+"/", "tr-key-abcd1234"))
	got := h.do("GET", pcRoute+"/"+id, nil)
	require.NotContains(t, string(got.body), tok, "GET masks it")
	r := h.do("POST", pcRoute+"/"+id+"/test", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	if strings.Contains(string(r.body), tok) {
		t.Fatalf("POST /test answer carries the base_url's user-info token: %s", r.body)
	}
}
