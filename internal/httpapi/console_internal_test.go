package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/config"
)

func TestConsoleMeta(t *testing.T) {
	const empty = `<meta name="flowker-trace-url" content=""><meta name="flowker-oidc-issuer" content="">` +
		`<meta name="flowker-oidc-client-id" content=""><meta name="flowker-oidc-scopes" content="">`
	index := []byte(`<head>` + empty + `</head>`)
	require.Equal(t, index, withMeta(index, consoleMeta(config.Config{})), "nothing set: the tags stay empty")

	cfg := config.Config{ConsoleTraceURLTemplate: `http://g/x?id={trace_id}&a="<b>`,
		OIDC:        config.OIDC{Enabled: true, Issuer: "https://idp.example/realms/a&b"},
		ConsoleOIDC: config.ConsoleOIDC{ClientID: `console"><script>`, Scopes: "openid profile"}}
	require.Equal(t, `<head><meta name="flowker-trace-url" content="http://g/x?id={trace_id}&amp;a=&#34;&lt;b&gt;">`+
		`<meta name="flowker-oidc-issuer" content="https://idp.example/realms/a&amp;b">`+
		`<meta name="flowker-oidc-client-id" content="console&#34;&gt;&lt;script&gt;">`+
		`<meta name="flowker-oidc-scopes" content="openid profile"></head>`,
		string(withMeta(index, consoleMeta(cfg))))

	// Without a client id, the issuer is not announced: no sign-in offered.
	cfg.ConsoleOIDC = config.ConsoleOIDC{}
	require.Contains(t, string(withMeta(index, consoleMeta(cfg))), `<meta name="flowker-oidc-issuer" content="">`)

	require.Panics(t, func() { withMeta([]byte(`<head></head>`), map[string]string{"flowker-trace-url": "x"}) },
		"an index.html without the tag is a build error")
}

func TestConsoleCSP(t *testing.T) {
	require.Contains(t, consoleCSP(nil), "; connect-src 'self'; ")
	require.Contains(t, consoleCSP([]string{"https://idp.example", "https://login.example:8443"}),
		"; connect-src 'self' https://idp.example https://login.example:8443; ")
}
