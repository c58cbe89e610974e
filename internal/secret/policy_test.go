package secret_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/catalog"
	"flowker/internal/flow"
	"flowker/internal/secret"
)

func TestIsSecretName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"password", "dbPassword", "X-Auth-Token", "x_node_token", "client_secret",
		"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "api_key", "X-API-Key", "key",
		"signing_key", "X-Tenant-Key", "refreshToken", "credentials", "PIN", "cvv", "passphrase", "verify_token"} {
		require.True(t, secret.IsSecretName(name), name)
	}
	for _, name := range []string{"username", "base_url", "Content-Type", "amount", "pinned", "keys", "id",
		"X-Request-Id", "description", "monkeys"} {
		require.False(t, secret.IsSecretName(name), name)
	}
	require.True(t, secret.SafeHeader("content-type"))
	require.True(t, secret.SafeHeader("X-Request-ID"))
	require.False(t, secret.SafeHeader("X-Auth-Token"))
	require.False(t, secret.SafeHeader("X-Tenant"), "an unknown header is not safe")
}

// schema declares api_key writeOnly, token_url and password not, a header
// map and a free-form body.
var schema = secret.SchemaPolicy([]byte(`{
	"properties": {
		"api_key": {"type": "string", "writeOnly": true},
		"token_url": {"type": "string"},
		"password": {"type": "string", "description": "declared, not writeOnly: the schema decides"},
		"base_url": {"type": "string"},
		"headers": {"type": "object", "additionalProperties": {"type": "string"}},
		"body": {"description": "free-form"},
		"entries": {"type": "array", "items": {"$ref": "#/$defs/entry"}},
		"auth": {"allOf": [{"if": {"properties": {"type": {"const": "x"}}}, "then": {"properties": {"pin_code": {"writeOnly": true}}}}]}
	},
	"$defs": {"entry": {"properties": {"code": {"type": "string", "writeOnly": true}, "next": {"$ref": "#/$defs/entry"}}}}
}`))

func doc() map[string]any {
	return map[string]any{
		"api_key":   "k-0123456789",
		"token_url": "https://idp.example/token",
		"password":  "declared-not-secret",
		"base_url":  "https://svc-user:url-pass-4242@svc.example/api?v=1",
		"headers": map[string]any{"X-Auth-Token": "hdr-token-7777", "Content-Type": "application/json",
			"X-Tenant": "acme-tenant", "Authorization": "Bearer abc-1234"},
		"safe_headers": []any{"X-Tenant", "Authorization"},
		"body":         map[string]any{"password": "body-pw-5555", "amount": 10.0, "nested": map[string]any{"secret": "s-6666"}},
		"entries":      []any{map[string]any{"code": "entry-code-1", "label": "first"}},
		"auth":         map[string]any{"type": "x", "pin_code": "9876543"},
		"extra_token":  "undeclared-8888",
	}
}

func TestPolicySchemaHeadersURLs(t *testing.T) {
	t.Parallel()
	in := doc()
	m := secret.Mask(in, schema)
	require.Equal(t, "****6789", m["api_key"], "writeOnly")
	require.Equal(t, "https://idp.example/token", m["token_url"], "declared, not writeOnly")
	require.Equal(t, "declared-not-secret", m["password"], "where the schema describes a field, it decides")
	require.Equal(t, "https://****@svc.example/api?v=1", m["base_url"], "user info is masked, the rest is shown")
	h := m["headers"].(map[string]any)
	require.Equal(t, "****7777", h["X-Auth-Token"], "every header value is secret…")
	require.Equal(t, "application/json", h["Content-Type"], "…except safe ones")
	require.Equal(t, "acme-tenant", h["X-Tenant"], "…and those declared safe")
	require.Equal(t, "****1234", h["Authorization"], "a credential's name is never safe")
	body := m["body"].(map[string]any)
	require.Equal(t, "****5555", body["password"], "free-form: names decide")
	require.Equal(t, "****6666", body["nested"].(map[string]any)["secret"])
	require.Equal(t, 10.0, body["amount"])
	entry := m["entries"].([]any)[0].(map[string]any)
	require.Equal(t, "****de-1", entry["code"], "$ref followed")
	require.Equal(t, "first", entry["label"])
	require.Equal(t, "****6543", m["auth"].(map[string]any)["pin_code"], "if/then merged")
	require.Equal(t, "****8888", m["extra_token"], "a key the schema does not list: names decide")
	require.Equal(t, doc(), in, "the input is not modified")

	b := box(t)
	sealed, err := b.Seal(in, "config", schema)
	require.NoError(t, err)
	raw, err := json.Marshal(sealed)
	require.NoError(t, err)
	for _, s := range []string{"k-0123456789", "url-pass-4242", "svc-user", "hdr-token-7777", "abc-1234",
		"body-pw-5555", "s-6666", "entry-code-1", "9876543", "undeclared-8888"} {
		require.NotContains(t, string(raw), s)
	}
	for _, s := range []string{"application/json", "acme-tenant", "declared-not-secret", "https://idp.example/token"} {
		require.Contains(t, string(raw), s)
	}
	opened, err := b.Open(sealed, "config")
	require.NoError(t, err)
	require.Equal(t, doc(), opened)
}

func TestKeepMaskedURLsAndSafeHeaders(t *testing.T) {
	t.Parallel()
	stored := doc()
	update := secret.Mask(doc(), schema)
	got, err := secret.KeepMasked(update, stored, schema)
	require.NoError(t, err)
	require.Equal(t, doc(), got, "everything read back masked is kept")

	// A masked user info on another host is not a match: send the secret
	// (and the other secrets, now sent to another host).
	update = secret.Mask(doc(), schema)
	update["base_url"] = "https://****@other.example/api"
	_, err = secret.KeepMasked(update, stored, schema)
	var me *secret.MaskedError
	require.ErrorAs(t, err, &me)

	// A header declared safe by the update while it sends the stored secret
	// back masked is refused: restoring it would show a secret to whoever
	// may write the configuration (found by a defect hunt). Declaring it
	// safe takes its value sent in full; a credential's name stays secret.
	stored["headers"].(map[string]any)["X-Region"] = "region-5555"
	update = secret.Mask(stored, schema)
	require.Equal(t, "****5555", update["headers"].(map[string]any)["X-Region"])
	update["safe_headers"] = []any{"X-Tenant", "X-Region", "X-Auth-Token"}
	_, err = secret.KeepMasked(update, stored, schema)
	require.ErrorAs(t, err, &me)
	require.Equal(t, "headers.X-Region", me.Field)
	require.Contains(t, me.Error(), "no longer keeps secret")
	update["headers"].(map[string]any)["X-Region"] = "region-5555"
	got, err = secret.KeepMasked(update, stored, schema)
	require.NoError(t, err)
	shown := secret.Mask(got, schema)["headers"].(map[string]any)
	require.Equal(t, "region-5555", shown["X-Region"], "sent in full, and shown now that it is declared safe")
	require.Equal(t, "****7777", shown["X-Auth-Token"], "a credential's name cannot be declared safe")
}

func TestSealSealsWhatLooksSealed(t *testing.T) {
	t.Parallel()
	b := box(t)
	fake := "enc:v1:bm90LWEtY2lwaGVydGV4dA=="
	in := map[string]any{"note": fake, "token": fake}
	sealed, err := b.Seal(in, "config", secret.Policy{})
	require.NoError(t, err)
	require.NotEqual(t, fake, sealed["note"], "what only looks sealed is sealed")
	opened, err := b.Open(sealed, "config")
	require.NoError(t, err)
	require.Equal(t, in, opened, "and reads back as sent")

	// A value sealed where a policy no longer sees a secret still opens.
	old, err := b.Seal(map[string]any{"headers": map[string]any{"X-Tenant": "acme"}}, "config", secret.Policy{})
	require.NoError(t, err)
	require.True(t, secret.IsSealed(old["headers"].(map[string]any)["X-Tenant"]))
	opened, err = b.Open(old, "config")
	require.NoError(t, err)
	require.Equal(t, "acme", opened["headers"].(map[string]any)["X-Tenant"])
}

func TestRedact(t *testing.T) {
	t.Parallel()
	sent := map[string]any{
		"method": "POST",
		"url":    "https://user:url-secret@svc.example/v1/check?sig=q-secret",
		"query":  url.Values{"api_key": {"query-secret"}, "page": {"2"}},
		"body": map[string]any{
			"password": "pw-secret", "customer": map[string]any{"name": "Maria", "Client-Secret": "cs-secret"},
			"headers": map[string]any{"X-Node-Token": "hdr-secret", "Accept": "application/json"},
			"note":    "Bearer bearer-secret", "callback": "https://cb-user:cb-secret@hooks.example/x",
			"list": []any{map[string]any{"refresh_token": "rt-secret"}, "plain"},
		},
		"header": http.Header{"X-Auth-Token": {"h-secret"}},
	}
	raw, err := json.Marshal(secret.Redact(sent))
	require.NoError(t, err)
	out := string(raw)
	for _, s := range []string{"url-secret", "q-secret", "query-secret", "pw-secret", "cs-secret", "hdr-secret",
		"bearer-secret", "cb-secret", "rt-secret", "h-secret"} {
		require.NotContains(t, out, s)
	}
	for _, s := range []string{`"method":"POST"`, "svc.example/v1/check", `"page":["2"]`, "Maria",
		`"Accept":"application/json"`, "plain"} {
		require.Contains(t, out, s)
	}
	require.Equal(t, "pw-secret", sent["body"].(map[string]any)["password"], "the input is not modified")
}

func TestExecutorConfigSecrets(t *testing.T) {
	t.Parallel()
	b := box(t)
	http, _ := catalog.Default().Provider("http")
	auth := secret.SchemaPolicy(http.ConfigSchema).Sub("auth")
	e := func() *flow.ExecutorConfig {
		return &flow.ExecutorConfig{BaseURL: "https://svc:base-pass-1111@svc.example/api",
			Authentication: flow.Authentication{Type: "oauth2_client_credentials", Config: map[string]any{
				"token_url": "https://idp.example/token", "client_id": "c", "client_secret": "cs-22222222",
				"key": "alias-33333333"}}}
	}
	sealed := e()
	require.NoError(t, b.SealExecutor(sealed, auth))
	require.True(t, secret.IsSealed(sealed.BaseURL))
	require.True(t, secret.IsSealed(sealed.Authentication.Config["client_secret"]))
	require.True(t, secret.IsSealed(sealed.Authentication.Config["key"]), "undeclared: names decide")
	require.Equal(t, "https://idp.example/token", sealed.Authentication.Config["token_url"], "declared, not secret")
	require.NoError(t, b.OpenExecutor(sealed))
	require.Equal(t, e(), sealed)

	shown := e()
	secret.MaskExecutor(shown, auth)
	require.Equal(t, "https://****@svc.example/api", shown.BaseURL)
	require.Equal(t, "****2222", shown.Authentication.Config["client_secret"])
	require.NoError(t, secret.KeepMaskedExecutor(shown, e(), auth))
	require.Equal(t, e(), shown)

	shown = e()
	secret.MaskExecutor(shown, auth)
	shown.Authentication.Config["client_secret"] = "****0000"
	err := secret.KeepMaskedExecutor(shown, e(), auth)
	var me *secret.MaskedError
	require.ErrorAs(t, err, &me)
	require.Equal(t, "authentication.config.client_secret", me.Field)
}

// TestCatalogSchemasMarkSecrets: the catalog's schemas are what decide.
func TestCatalogSchemasMarkSecrets(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	tracer, _ := cat.Provider("tracer")
	m := secret.Mask(map[string]any{"base_url": "https://t.example", "api_key": "tk-12345678",
		"headers": map[string]any{"X-Auth-Token": "xa-12345678", "Accept": "application/json"}},
		secret.SchemaPolicy(tracer.ConfigSchema))
	require.Equal(t, "****5678", m["api_key"])
	require.Equal(t, "****5678", m["headers"].(map[string]any)["X-Auth-Token"])
	require.Equal(t, "application/json", m["headers"].(map[string]any)["Accept"])

	ex, _ := cat.Executor("http.request")
	data := secret.Mask(map[string]any{"executorId": "http.request", "path": "/token/refresh",
		"headers": map[string]any{"X-Node-Token": "nt-12345678"}, "body": map[string]any{"password": "bp-12345678"},
		"query": map[string]any{"api_key": "qk-12345678", "page": "2"}},
		secret.SchemaPolicy(ex.Schema))
	require.Equal(t, "/token/refresh", data["path"])
	require.Equal(t, map[string]any{"api_key": "****5678", "page": "2"}, data["query"],
		"additionalProperties describes any key: names still decide")
	require.Equal(t, "****5678", data["headers"].(map[string]any)["X-Node-Token"])
	require.Equal(t, "****5678", data["body"].(map[string]any)["password"])

	trig, _ := cat.Trigger("webhook")
	require.Equal(t, "****5678", secret.Mask(map[string]any{"verify_token": "vt-12345678"},
		secret.SchemaPolicy(trig.Schema))["verify_token"])
	require.Equal(t, secret.Policy{}, secret.SchemaPolicy([]byte("not json")))
	require.True(t, strings.HasPrefix(secret.MaskURL("ftp://u:p@h/x"), "ftp://****@h"))
}
