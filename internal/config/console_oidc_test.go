package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/config"
)

// withOIDC is an environment accepting bearer tokens of idp.example, plus kv.
func withOIDC(kv map[string]string) map[string]string {
	out := map[string]string{"AUTH_OIDC_ENABLED": "true", "AUTH_OIDC_ISSUER": "https://IdP.example/realms/x",
		"AUTH_OIDC_AUDIENCE": "flowker"}
	for k, v := range kv {
		out[k] = v
	}
	return out
}

func TestConsoleOIDC(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(nil))
	require.NoError(t, err)
	require.Zero(t, c.ConsoleOIDC, "off by default")

	c, err = config.Load(env(withOIDC(map[string]string{"CONSOLE_OIDC_CLIENT_ID": "flowker-console"})))
	require.NoError(t, err)
	require.Equal(t, config.ConsoleOIDC{ClientID: "flowker-console", Scopes: "openid",
		ConnectOrigins: []string{"https://idp.example"}}, c.ConsoleOIDC, "the issuer's origin is always allowed")

	c, err = config.Load(env(withOIDC(map[string]string{"CONSOLE_OIDC_CLIENT_ID": "flowker-console",
		"CONSOLE_OIDC_SCOPES":          "  openid   profile flowker:all ",
		"CONSOLE_OIDC_CONNECT_ORIGINS": "https://login.example:8443, https://idp.example, http://127.0.0.1:9000/, http://[::1]:9"})))
	require.NoError(t, err)
	require.Equal(t, config.ConsoleOIDC{ClientID: "flowker-console", Scopes: "openid profile flowker:all",
		ConnectOrigins: []string{"https://idp.example", "https://login.example:8443", "http://127.0.0.1:9000", "http://[::1]:9"}},
		c.ConsoleOIDC)
}

func TestConsoleOIDCInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"client id without OIDC", map[string]string{"CONSOLE_OIDC_CLIENT_ID": "flowker-console"},
			[]string{"CONSOLE_OIDC_CLIENT_ID", "AUTH_OIDC_ENABLED"}},
		{"connect origins without client id", withOIDC(map[string]string{"CONSOLE_OIDC_CONNECT_ORIGINS": "https://a.example"}),
			[]string{"CONSOLE_OIDC_CONNECT_ORIGINS", "CONSOLE_OIDC_CLIENT_ID"}},
		{"scopes without openid", withOIDC(map[string]string{"CONSOLE_OIDC_CLIENT_ID": "c", "CONSOLE_OIDC_SCOPES": "profile"}),
			[]string{"CONSOLE_OIDC_SCOPES", "openid"}},
		{"a quote in a scope", withOIDC(map[string]string{"CONSOLE_OIDC_CLIENT_ID": "c", "CONSOLE_OIDC_SCOPES": `openid a"b`}),
			[]string{"CONSOLE_OIDC_SCOPES", `a\"b`}},
		{"client id with a space", withOIDC(map[string]string{"CONSOLE_OIDC_CLIENT_ID": "a b"}),
			[]string{"CONSOLE_OIDC_CLIENT_ID", "printable"}},
		{"an origin with a path", withOIDC(map[string]string{"CONSOLE_OIDC_CLIENT_ID": "c",
			"CONSOLE_OIDC_CONNECT_ORIGINS": "https://a.example/token"}), []string{"CONSOLE_OIDC_CONNECT_ORIGINS", "no path"}},
		{"an origin of another scheme", withOIDC(map[string]string{"CONSOLE_OIDC_CLIENT_ID": "c",
			"CONSOLE_OIDC_CONNECT_ORIGINS": "wss://a.example"}), []string{"CONSOLE_OIDC_CONNECT_ORIGINS", "wss://a.example"}},
		{"a CSP source list smuggled in", withOIDC(map[string]string{"CONSOLE_OIDC_CLIENT_ID": "c",
			"CONSOLE_OIDC_CONNECT_ORIGINS": "https://a.example; script-src *"}), []string{"CONSOLE_OIDC_CONNECT_ORIGINS"}},
		{"plain http elsewhere than loopback", withOIDC(map[string]string{"CONSOLE_OIDC_CLIENT_ID": "c",
			"CONSOLE_OIDC_CONNECT_ORIGINS": "http://a.example"}), []string{"CONSOLE_OIDC_CONNECT_ORIGINS", "https://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(env(tc.env))
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}
