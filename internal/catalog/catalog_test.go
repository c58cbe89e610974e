package catalog

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	uuid1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	uuid2 = "0f8fad5b-d9cb-469f-a165-70867728950e"
)

func ids[T any](items []*T, id func(*T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func TestContentsListedAndSorted(t *testing.T) {
	t.Parallel()
	c := Default()
	require.Same(t, c, Default(), "built once")

	require.Equal(t, []string{"http", "midaz", "tracer"}, ids(c.Providers(), func(p *Provider) string { return p.ID }))
	require.Equal(t, []string{
		"http.request",
		"midaz.create-account", "midaz.create-transaction", "midaz.get-account", "midaz.get-account-balance",
		"tracer.list-validations", "tracer.validate-transaction",
	}, ids(c.Executors(), func(e *Executor) string { return e.ID }))
	require.Equal(t, []string{"webhook"}, ids(c.Triggers(), func(t *Trigger) string { return t.ID }))
	require.Equal(t, []string{"kyc-aml-review", "tracer-midaz-validation"}, ids(c.Templates(), func(t *Template) string { return t.ID }))

	require.Equal(t, []string{"midaz.create-account", "midaz.create-transaction", "midaz.get-account", "midaz.get-account-balance"},
		ids(c.ProviderExecutors("midaz"), func(e *Executor) string { return e.ID }))
	require.Equal(t, []string{"tracer.list-validations", "tracer.validate-transaction"},
		ids(c.ProviderExecutors("tracer"), func(e *Executor) string { return e.ID }))
	require.Equal(t, []string{"http.request"}, ids(c.ProviderExecutors("http"), func(e *Executor) string { return e.ID }))
	require.NotNil(t, c.ProviderExecutors("nope"))
	require.Empty(t, c.ProviderExecutors("nope"))

	// Lists are copies: reordering one does not touch the catalog.
	ps := c.Providers()
	ps[0], ps[2] = ps[2], ps[0]
	require.Equal(t, "http", c.Providers()[0].ID)

	_, ok := c.Provider("nope")
	require.False(t, ok)
	_, ok = c.Executor("nope")
	require.False(t, ok)
	_, ok = c.Trigger("nope")
	require.False(t, ok)
	_, ok = c.Template("nope")
	require.False(t, ok)
}

func TestProviderEntries(t *testing.T) {
	t.Parallel()
	tests := []struct{ id, name, description string }{
		{"http", "HTTP", "Generic HTTP/JSON service"},
		{"midaz", "Midaz", "Lerian Midaz core banking ledger provider for managing transactions, accounts, and balances"},
		{"tracer", "Tracer", "Lerian Tracer provider for transaction validation against compliance rules and financial limits"},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			p, ok := Default().Provider(tc.id)
			require.True(t, ok)
			require.Equal(t, tc.id, p.ID)
			require.Equal(t, tc.name, p.Name)
			require.Equal(t, tc.description, p.Description)
			require.Equal(t, "v1", p.Version)
		})
	}
}

func TestExecutorEntries(t *testing.T) {
	t.Parallel()
	const ledger = "/v1/organizations/{organization_id}/ledgers/{ledger_id}"
	tests := []struct{ id, name, category, provider, method, baseURLKey, path string }{
		{"tracer.validate-transaction", "Validate Transaction", "Tracer", "tracer", "POST", "base_url", "/v1/validations"},
		{"tracer.list-validations", "List Validations", "Tracer", "tracer", "GET", "base_url", "/v1/validations"},
		{"midaz.create-transaction", "Create Transaction", "Midaz", "midaz", "POST", "transaction_base_url", ledger + "/transactions/json"},
		{"midaz.create-account", "Create Account", "Midaz", "midaz", "POST", "onboarding_base_url", ledger + "/accounts"},
		{"midaz.get-account", "Get Account", "Midaz", "midaz", "GET", "onboarding_base_url", ledger + "/accounts/{accountId}"},
		{"midaz.get-account-balance", "Get Account Balance", "Midaz", "midaz", "GET", "transaction_base_url", ledger + "/accounts/{accountId}/balances"},
		{"http.request", "HTTP Request", "HTTP", "http", "POST", "base_url", ""},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			e, ok := Default().Executor(tc.id)
			require.True(t, ok)
			require.Equal(t, Executor{ID: tc.id, Name: tc.name, Category: tc.category, Version: "v1", ProviderID: tc.provider,
				Schema: e.Schema, Method: tc.method, BaseURLKey: tc.baseURLKey, Path: tc.path}, *e)
			p, ok := Default().Provider(e.ProviderID)
			require.True(t, ok)
			require.Equal(t, p.Name, e.Category, "category is the provider's display name")
		})
	}
}

func TestEverySchemaCompiles(t *testing.T) {
	t.Parallel()
	for _, s := range Default().schemas() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			_, err := compileNow(s.schema) // fresh compilation, not the cache
			require.NoError(t, err)
			var doc map[string]any
			require.NoError(t, json.Unmarshal(s.schema, &doc))
			require.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc["$schema"])
			require.Equal(t, "object", doc["type"])
			require.Contains(t, string(s.schema), "\n  ", "pretty-printed")
		})
	}
}

// check asserts err is nil (wantPath == "-") or a *ValidationError at
// wantPath whose message contains wantMsg.
func check(t *testing.T, err error, wantPath, wantMsg string) {
	t.Helper()
	if wantPath == "-" {
		require.NoError(t, err)
		return
	}
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, wantPath, ve.Path, ve.Error())
	require.Contains(t, ve.Message, wantMsg)
}

func TestProviderValidateConfig(t *testing.T) {
	t.Parallel()
	tracerOK := map[string]any{"base_url": "https://tracer.example.com", "api_key": "k"}
	midazOK := map[string]any{
		"onboarding_base_url": "http://midaz:3000", "transaction_base_url": "http://midaz:3001",
		"organization_id": uuid1, "ledger_id": uuid2,
	}
	with := func(base map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	httpAuth := func(auth map[string]any) map[string]any {
		return map[string]any{"base_url": "https://api.example.com", "auth": auth}
	}
	midazAuth := map[string]any{"issuer_url": "https://idp.example.com", "client_id": "c", "client_secret": "s"}
	tests := []struct {
		name, provider string
		cfg            map[string]any
		path, msg      string
	}{
		{"tracer ok", "tracer", tracerOK, "-", ""},
		{"tracer extras allowed", "tracer", with(tracerOK, "auth_type", "api_key", "timeout_seconds", 30.0,
			"headers", map[string]any{"X-A": "b"}), "-", ""},
		{"tracer nil config", "tracer", nil, "", "missing properties 'base_url', 'api_key'"},
		{"tracer missing api_key", "tracer", map[string]any{"base_url": "https://t"}, "", "missing property 'api_key'"},
		{"tracer empty api_key", "tracer", with(tracerOK, "api_key", ""), "/api_key", "minLength"},
		{"tracer bad uri", "tracer", with(tracerOK, "base_url", "not a url"), "/base_url", "'not a url' is not valid 'uri'"},
		{"tracer timeout too big", "tracer", with(tracerOK, "timeout_seconds", 301.0), "/timeout_seconds", "maximum"},
		{"tracer timeout fractional", "tracer", with(tracerOK, "timeout_seconds", 2.5), "/timeout_seconds", "want integer"},
		{"tracer header not string", "tracer", with(tracerOK, "headers", map[string]any{"X-A": 1.0}), "/headers/X-A", "want string"},
		{"midaz ok", "midaz", midazOK, "-", ""},
		{"midaz with auth", "midaz", with(midazOK, "auth", with(midazAuth, "scopes", []any{"a", "b"})), "-", ""},
		{"midaz missing ledger", "midaz", with(midazOK, "ledger_id", nil), "/ledger_id", "want string"},
		{"midaz bad uuid", "midaz", with(midazOK, "organization_id", "org-1"), "/organization_id", "'org-1' is not valid 'uuid'"},
		{"midaz bad uri", "midaz", with(midazOK, "transaction_base_url", "midaz.example.com/api"), "/transaction_base_url",
			"'midaz.example.com/api' is not valid 'uri'"},
		{"midaz auth incomplete", "midaz", with(midazOK, "auth", map[string]any{"issuer_url": "https://i"}), "/auth",
			"missing properties 'client_id', 'client_secret'"},
		{"midaz auth bad issuer", "midaz", with(midazOK, "auth", with(midazAuth, "issuer_url", "idp")), "/auth/issuer_url", "is not valid 'uri'"},
		{"midaz scopes not strings", "midaz", with(midazOK, "auth", with(midazAuth, "scopes", []any{"a", 1.0})), "/auth/scopes/1", "want string"},
		{"http minimal", "http", map[string]any{"base_url": "https://api.example.com"}, "-", ""},
		{"http missing base_url", "http", map[string]any{}, "", "missing property 'base_url'"},
		{"http auth none", "http", httpAuth(map[string]any{"type": "none"}), "-", ""},
		{"http auth without type", "http", httpAuth(map[string]any{}), "/auth", "missing property 'type'"},
		{"http auth unknown type", "http", httpAuth(map[string]any{"type": "magic"}), "/auth/type", "value must be one of"},
		{"http api_key ok", "http", httpAuth(map[string]any{"type": "api_key", "api_key": "k", "location": "query",
			"query_param_name": "key"}), "-", ""},
		{"http api_key missing", "http", httpAuth(map[string]any{"type": "api_key", "token": "t"}), "/auth", "missing property 'api_key'"},
		{"http api_key bad location", "http", httpAuth(map[string]any{"type": "api_key", "api_key": "k", "location": "body"}),
			"/auth/location", "value must be one of"},
		{"http bearer ok", "http", httpAuth(map[string]any{"type": "bearer", "token": "t"}), "-", ""},
		{"http bearer missing token", "http", httpAuth(map[string]any{"type": "bearer", "api_key": "k"}), "/auth", "missing property 'token'"},
		{"http basic ok", "http", httpAuth(map[string]any{"type": "basic", "username": "u", "password": "p"}), "-", ""},
		{"http basic missing password", "http", httpAuth(map[string]any{"type": "basic", "username": "u"}), "/auth",
			"missing property 'password'"},
		{"http oauth2 ok", "http", httpAuth(map[string]any{"type": "oauth2_client_credentials", "token_url": "https://idp/token",
			"client_id": "c", "client_secret": "s", "scopes": []any{"x"}, "token_endpoint_auth_method": "client_secret_post"}), "-", ""},
		{"http oauth2 missing", "http", httpAuth(map[string]any{"type": "oauth2_client_credentials", "client_id": "c"}), "/auth",
			"missing properties 'token_url', 'client_secret'"},
		{"http oauth2 bad token_url", "http", httpAuth(map[string]any{"type": "oauth2_client_credentials", "token_url": "token",
			"client_id": "c", "client_secret": "s"}), "/auth/token_url", "'token' is not valid 'uri'"},
		{"http oidc cc ok", "http", httpAuth(map[string]any{"type": "oidc_client_credentials", "issuer_url": "https://idp",
			"client_id": "c", "client_secret": "s", "audience": "a"}), "-", ""},
		{"http oidc cc needs issuer", "http", httpAuth(map[string]any{"type": "oidc_client_credentials", "token_url": "https://idp/t",
			"client_id": "c", "client_secret": "s"}), "/auth", "missing property 'issuer_url'"},
		{"http oidc user ok", "http", httpAuth(map[string]any{"type": "oidc_user", "issuer_url": "https://idp", "client_id": "c",
			"username": "u", "password": "p"}), "-", ""},
		{"http oidc user missing", "http", httpAuth(map[string]any{"type": "oidc_user", "issuer_url": "https://idp", "client_id": "c"}),
			"/auth", "missing properties 'username', 'password'"},
		{"http bad auth method", "http", httpAuth(map[string]any{"type": "oidc_client_credentials", "issuer_url": "https://idp",
			"client_id": "c", "client_secret": "s", "token_endpoint_auth_method": "private_key_jwt"}),
			"/auth/token_endpoint_auth_method", "value must be one of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, ok := Default().Provider(tc.provider)
			require.True(t, ok)
			check(t, p.ValidateConfig(tc.cfg), tc.path, tc.msg)
		})
	}
}

func TestSecretKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider string
		want     []string
	}{
		{"tracer", []string{"api_key"}},
		{"midaz", []string{"client_secret"}},
		{"http", []string{"api_key", "client_secret", "password", "token"}},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			p, _ := Default().Provider(tc.provider)
			require.Equal(t, tc.want, p.SecretKeys())
		})
	}
	trig, _ := Default().Trigger("webhook")
	require.Equal(t, []string{"verify_token"}, trig.SecretKeys())

	nested := &Provider{ConfigSchema: json.RawMessage(`{"$defs":{"a":{"properties":{"x":{"writeOnly":true}}}},
		"allOf":[{"then":{"properties":{"y":{"writeOnly":true},"z":{"writeOnly":false}}}}],
		"properties":{"o":{"items":{"properties":{"x":{"writeOnly":true}}}}}}`)}
	require.Equal(t, []string{"x", "y"}, nested.SecretKeys())
	require.Equal(t, []string{}, (&Provider{ConfigSchema: json.RawMessage(`not json`)}).SecretKeys())
}

func validTransaction() map[string]any {
	return map[string]any{
		"requestId": uuid1, "transactionType": "PIX", "amount": "1500.00", "currency": "BRL",
		"transactionTimestamp": "2026-01-15T10:30:00Z",
		"account":              map[string]any{"accountId": uuid2, "type": "checking", "status": "active"},
		"merchant":             map[string]any{"merchantId": "m1", "category": "5411", "country": "BR"},
		"metadata":             map[string]any{"channel": "app"},
	}
}

func TestExecutorValidateData(t *testing.T) {
	t.Parallel()
	tx := func(kv ...any) map[string]any {
		m := validTransaction()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name, executor string
		data           map[string]any
		path, msg      string
	}{
		{"tx ok", "tracer.validate-transaction", validTransaction(), "-", ""},
		{"tx missing requestId", "tracer.validate-transaction", tx("requestId", nil), "", "missing property 'requestId'"},
		{"tx bad requestId", "tracer.validate-transaction", tx("requestId", "req-1"), "/requestId", "'req-1' is not valid 'uuid'"},
		{"tx lowercase currency", "tracer.validate-transaction", tx("currency", "brl"), "/currency", "does not match pattern"},
		{"tx long currency", "tracer.validate-transaction", tx("currency", "BRLX"), "/currency", "does not match pattern"},
		{"tx numeric amount", "tracer.validate-transaction", tx("amount", 1500.0), "/amount", "got number, want string"},
		{"tx malformed amount", "tracer.validate-transaction", tx("amount", "1.2.3"), "/amount", "does not match pattern"},
		{"tx negative amount", "tracer.validate-transaction", tx("amount", "-5"), "/amount", "does not match pattern"},
		{"tx bad timestamp", "tracer.validate-transaction", tx("transactionTimestamp", "2026-01-15 10:30"),
			"/transactionTimestamp", "is not valid 'date-time'"},
		{"tx bad type", "tracer.validate-transaction", tx("transactionType", "CASH"), "/transactionType", "value must be one of"},
		{"tx bad account", "tracer.validate-transaction", tx("account", map[string]any{"accountId": uuid1, "type": "loan",
			"status": "active"}), "/account/type", "value must be one of"},
		{"tx bad mcc", "tracer.validate-transaction", tx("merchant", map[string]any{"category": "54"}), "/merchant/category", "minLength"},
		{"tx long metadata key", "tracer.validate-transaction", tx("metadata", map[string]any{strings.Repeat("k", 65): "v"}),
			"/metadata", "invalid propertyName '" + strings.Repeat("k", 65) + "': maxLength: got 65, want 64"},
		{"list ok", "tracer.list-validations", map[string]any{"decision": "DENY", "limit": 50.0, "sortOrder": "ASC"}, "-", ""},
		{"list empty", "tracer.list-validations", nil, "-", ""},
		{"list extra property", "tracer.list-validations", map[string]any{"limit": 10.0, "page": 2.0}, "",
			"additional properties 'page' not allowed"},
		{"list limit range", "tracer.list-validations", map[string]any{"limit": 0.0}, "/limit", "minimum"},
		{"create tx ok", "midaz.create-transaction", map[string]any{"pending": true, "send": map[string]any{
			"asset": "BRL", "value": "100.00",
			"source":     map[string]any{"from": []any{map[string]any{"accountAlias": "@a", "amount": map[string]any{"asset": "BRL", "value": "100"}}}},
			"distribute": map[string]any{"to": []any{map[string]any{"accountAlias": "@b"}}},
		}}, "-", ""},
		{"create tx missing send", "midaz.create-transaction", map[string]any{"code": "x"}, "", "missing property 'send'"},
		{"create tx entry without alias", "midaz.create-transaction", map[string]any{"send": map[string]any{
			"asset": "BRL", "value": "1", "distribute": map[string]any{"to": []any{map[string]any{"description": "d"}}},
		}}, "/send/distribute/to/0", "missing property 'accountAlias'"},
		{"create account ok", "midaz.create-account", map[string]any{"assetCode": "BRL", "type": "deposit", "portfolioId": uuid1}, "-", ""},
		{"create account bad uuid", "midaz.create-account", map[string]any{"assetCode": "BRL", "type": "deposit",
			"segmentId": "seg"}, "/segmentId", "'seg' is not valid 'uuid'"},
		{"get account ok", "midaz.get-account", map[string]any{"accountId": uuid1}, "-", ""},
		{"get account missing", "midaz.get-account", nil, "", "missing property 'accountId'"},
		{"balance limit", "midaz.get-account-balance", map[string]any{"accountId": uuid1, "limit": 101.0}, "/limit", "maximum"},
		{"http ok", "http.request", map[string]any{"method": "PATCH", "path": "/v1/x", "query": map[string]any{"a": "1"},
			"body": []any{1.0, "x"}, "timeout_seconds": 10.0, "success_status_codes": []any{200.0, 409.0}}, "-", ""},
		{"http bad method", "http.request", map[string]any{"method": "TRACE"}, "/method", "value must be one of"},
		{"http bad status code", "http.request", map[string]any{"success_status_codes": []any{200.5}},
			"/success_status_codes/0", "want integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, ok := Default().Executor(tc.executor)
			require.True(t, ok)
			check(t, e.ValidateData(tc.data), tc.path, tc.msg)
		})
	}
}

func TestTriggerValidateData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		data      map[string]any
		path, msg string
	}{
		{"ok", map[string]any{"path": "/orders", "method": "POST"}, "-", ""},
		{"with token", map[string]any{"path": "/orders", "method": "GET", "verify_token": "s3cret"}, "-", ""},
		{"triggerType must be stripped", map[string]any{"triggerType": "webhook", "path": "/o", "method": "POST"}, "",
			"additional properties 'triggerType' not allowed"},
		{"no leading slash", map[string]any{"path": "orders", "method": "POST"}, "/path", "does not match pattern"},
		{"empty path", map[string]any{"path": "", "method": "POST"}, "/path", "'' does not match pattern '^/'"},
		{"bad method", map[string]any{"path": "/o", "method": "HEAD"}, "/method", "value must be one of"},
		{"nil", nil, "", "missing properties 'path', 'method'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			trig, ok := Default().Trigger("webhook")
			require.True(t, ok)
			require.Equal(t, "Webhook", trig.Name)
			require.Equal(t, "v1", trig.Version)
			check(t, trig.ValidateData(tc.data), tc.path, tc.msg)
		})
	}
}

func TestGoValuesAndErrors(t *testing.T) {
	t.Parallel()
	tracer, _ := Default().Provider("tracer")
	base := func(extra string, v any) map[string]any {
		return map[string]any{"base_url": "https://t", "api_key": "k", extra: v}
	}
	// Numbers as encoding/json decodes them, and as Go code writes them.
	require.NoError(t, tracer.ValidateConfig(base("timeout_seconds", float64(30))))
	require.NoError(t, tracer.ValidateConfig(base("timeout_seconds", 30)))
	require.NoError(t, tracer.ValidateConfig(base("timeout_seconds", json.Number("30"))))
	require.NoError(t, tracer.ValidateConfig(base("headers", map[string]string{"X-A": "b"})))
	check(t, tracer.ValidateConfig(base("timeout_seconds", 0.5)), "/timeout_seconds", "want integer")

	err := tracer.ValidateConfig(base("headers", map[string]any{"x": make(chan int)}))
	check(t, err, "", "not representable as JSON")

	require.Equal(t, "at /base_url: 'x' is not valid 'uri'", (&ValidationError{Path: "/base_url", Message: "'x' is not valid 'uri'"}).Error())
	require.Equal(t, "missing property 'a'", (&ValidationError{Message: "missing property 'a'"}).Error())
	err = tracer.ValidateConfig(map[string]any{"base_url": "nope", "api_key": "k"})
	require.EqualError(t, err, "at /base_url: 'nope' is not valid 'uri'")

	// JSON pointer escaping of the instance location.
	check(t, tracer.ValidateConfig(base("headers", map[string]any{"a/b~c": true})), "/headers/a~1b~0c", "want string")

	// Hand-built values work too; a broken schema is not a ValidationError.
	hand := &Executor{Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer","multipleOf":2}}}`)}
	require.NoError(t, hand.ValidateData(map[string]any{"n": 4.0}))
	check(t, hand.ValidateData(map[string]any{"n": 3.0}), "/n", "multipleOf")
	err = (&Executor{Schema: json.RawMessage(`{"type":"nope"}`)}).ValidateData(nil)
	require.Error(t, err)
	var ve *ValidationError
	require.False(t, errors.As(err, &ve))
	err = (&Executor{Schema: json.RawMessage(`{"$ref":"file:///etc/passwd"}`)}).ValidateData(nil)
	require.Error(t, err, "no external loading")
	require.False(t, errors.As(err, &ve))
}

func TestLocateKey(t *testing.T) {
	t.Parallel()
	inst := map[string]any{
		"b": map[string]any{"k": 1.0},
		"a": map[string]any{"k": 2.0},
		"l": []any{map[string]any{"x": map[string]any{"k": 3.0}}},
	}
	require.Equal(t, "/a", locateKey(inst, 1, "k"), "first in pointer order")
	require.Equal(t, "/l/0/x", locateKey(inst, 3, "k"))
	require.Equal(t, "", locateKey(inst, 0, "k"))
	require.Equal(t, "", locateKey(inst, 2, "nope"))
}
