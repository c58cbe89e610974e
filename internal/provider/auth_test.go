package provider

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m))
	return m
}

func TestAuthFromMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		json    string
		want    Auth
		wantErr string // substring; the field name
	}{
		{name: "empty means none", json: `{}`, want: Auth{}},
		{name: "none", json: `{"type":"none"}`, want: Auth{Type: "none"}},
		{
			name: "api key in query with prefix",
			json: `{"type":"api_key","api_key":"k1","prefix":"Key ","location":"query","query_param_name":"token"}`,
			want: Auth{Type: AuthAPIKey, APIKey: "k1", Prefix: "Key ", Location: "query", QueryParam: "token"},
		},
		{name: "api key alias key", json: `{"type":"api_key","key":"k1"}`, want: Auth{Type: AuthAPIKey, APIKey: "k1"}},
		{name: "bearer", json: `{"type":"bearer","token":"t"}`, want: Auth{Type: AuthBearer, Token: "t"}},
		{name: "basic", json: `{"type":"basic","username":"u","password":"p"}`, want: Auth{Type: AuthBasic, Username: "u", Password: "p"}},
		{
			name: "oauth2 client credentials",
			json: `{"type":"oauth2_client_credentials","token_url":"https://idp/token","client_id":"c","client_secret":"s",
				"scopes":["a","b"],"audience":"api","token_endpoint_auth_method":"client_secret_post","extra_params":{"resource":"r"}}`,
			want: Auth{Type: AuthOAuth2ClientCredentials, TokenURL: "https://idp/token", ClientID: "c", ClientSecret: "s",
				Scopes: []string{"a", "b"}, Audience: "api", AuthMethod: AuthMethodPost, ExtraParams: map[string]string{"resource": "r"}},
		},
		{
			name: "oidc user, scopes as a string",
			json: `{"type":"oidc_user","issuer_url":"https://idp","client_id":"c","username":"u","password":"p","scopes":"openid profile"}`,
			want: Auth{Type: AuthOIDCUser, IssuerURL: "https://idp", ClientID: "c", Username: "u", Password: "p", Scopes: []string{"openid", "profile"}},
		},
		{name: "unknown type", json: `{"type":"kerberos"}`, wantErr: `unknown auth type "kerberos"`},
		{name: "api key missing", json: `{"type":"api_key"}`, wantErr: `"api_key" is required`},
		{name: "bad location", json: `{"type":"api_key","api_key":"k","location":"cookie"}`, wantErr: `"location"`},
		{name: "bearer missing token", json: `{"type":"bearer"}`, wantErr: `"token" is required`},
		{name: "basic missing password", json: `{"type":"basic","username":"u"}`, wantErr: `"password" is required`},
		{name: "oauth2 missing token url", json: `{"type":"oauth2_client_credentials","client_id":"c","client_secret":"s"}`, wantErr: `"token_url" is required`},
		{name: "oidc cc missing secret", json: `{"type":"oidc_client_credentials","issuer_url":"https://idp","client_id":"c"}`, wantErr: `"client_secret" is required`},
		{name: "oidc user missing username", json: `{"type":"oidc_user","issuer_url":"https://idp","client_id":"c","password":"p"}`, wantErr: `"username" is required`},
		{name: "issuer not a URL", json: `{"type":"oidc_client_credentials","issuer_url":"idp","client_id":"c","client_secret":"s"}`, wantErr: `"issuer_url"`},
		{name: "bad auth method", json: `{"type":"oauth2_client_credentials","token_url":"https://idp/t","client_id":"c","client_secret":"s","token_endpoint_auth_method":"private_key_jwt"}`, wantErr: `"token_endpoint_auth_method"`},
		{name: "reserved extra param", json: `{"type":"oauth2_client_credentials","token_url":"https://idp/t","client_id":"c","client_secret":"s","extra_params":{"grant_type":"x"}}`, wantErr: `"grant_type"`},
		{name: "wrong field type", json: `{"type":"bearer","token":42}`, wantErr: `"token" must be a string`},
		{name: "wrong scopes type", json: `{"type":"oidc_user","scopes":[1]}`, wantErr: `"scopes"`},
		{name: "wrong extra params type", json: `{"type":"bearer","token":"t","extra_params":{"a":1}}`, wantErr: `"extra_params"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := AuthFromMap(decode(t, tt.json))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidAuth)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestAuthErrorsAndStringHideSecrets(t *testing.T) {
	t.Parallel()
	a := Auth{Type: AuthOIDCUser, IssuerURL: "https://idp", ClientID: "c", ClientSecret: "cs-SECRET", Username: "u", Password: "pw-SECRET"}
	for _, s := range []string{a.String(), fmt.Sprintf("%v", a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a)} {
		require.NotContains(t, s, "SECRET")
		require.Contains(t, s, "oidc_user")
	}
	_, err := AuthFromMap(map[string]any{"type": "basic", "username": 7, "password": "pw-SECRET"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "SECRET")
}
