package provider

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Auth types.
const (
	AuthNone                    = "none"
	AuthAPIKey                  = "api_key"
	AuthBearer                  = "bearer"
	AuthBasic                   = "basic"
	AuthOAuth2ClientCredentials = "oauth2_client_credentials" //nolint:gosec // G101: a type name, not a credential
	AuthOIDCClientCredentials   = "oidc_client_credentials"   //nolint:gosec // G101: a type name, not a credential
	AuthOIDCUser                = "oidc_user"
)

// Token endpoint client authentication methods (Auth.AuthMethod).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
)

// API key locations (Auth.Location).
const (
	LocationHeader = "header"
	LocationQuery  = "query"
)

const (
	defaultAPIKeyHeader = "X-API-Key" //nolint:gosec // G101: a header name, not a credential
	defaultAPIKeyParam  = "api_key"
)

// ErrInvalidAuth is wrapped by every error about an unusable Auth
// configuration (unknown type, missing or malformed field).
var ErrInvalidAuth = errors.New("invalid auth configuration")

// reservedParams are set by the grant itself; letting extra_params override
// them would silently change the grant (x/oauth2 refuses most of them anyway).
var reservedParams = []string{"grant_type", "scope", "client_id", "client_secret", "username", "password", "refresh_token"}

// Auth says how to authenticate one outbound request. Its String method
// never prints secrets, so an Auth can be logged with %v.
type Auth struct {
	Type string // "", "none", "api_key", "bearer", "basic", "oauth2_client_credentials", "oidc_client_credentials", "oidc_user"

	APIKey, HeaderName, Prefix, Location, QueryParam string // api_key: header (default "X-API-Key") or query (default param "api_key"), optional prefix
	Token                                            string // bearer
	Username, Password                               string // basic, oidc_user
	TokenURL                                         string // oauth2_client_credentials (plain OAuth2 token endpoint)
	IssuerURL                                        string // oidc_*: discovery at {issuer}/.well-known/openid-configuration
	ClientID, ClientSecret, Audience, AuthMethod     string // AuthMethod: "client_secret_basic" (default) | "client_secret_post"
	Scopes                                           []string
	ExtraParams                                      map[string]string
}

// AuthFromMap parses the JSON shape of a provider configuration's auth block
// (as decoded by encoding/json) and validates it. "key" is accepted as an
// alias of "api_key" (the reference's spelling); a scopes string is split on
// spaces.
func AuthFromMap(m map[string]any) (Auth, error) {
	r := mapReader{m: m}
	a := Auth{
		Type:         r.str("type"),
		APIKey:       r.str("api_key"),
		HeaderName:   r.str("header_name"),
		Prefix:       r.str("prefix"),
		Location:     r.str("location"),
		QueryParam:   r.str("query_param_name"),
		Token:        r.str("token"),
		Username:     r.str("username"),
		Password:     r.str("password"),
		TokenURL:     r.str("token_url"),
		IssuerURL:    r.str("issuer_url"),
		ClientID:     r.str("client_id"),
		ClientSecret: r.str("client_secret"),
		Audience:     r.str("audience"),
		AuthMethod:   r.str("token_endpoint_auth_method"),
		Scopes:       r.strs("scopes"),
		ExtraParams:  r.strMap("extra_params"),
	}
	if a.APIKey == "" {
		a.APIKey = r.str("key")
	}
	if r.err != nil {
		return Auth{}, r.err
	}
	if err := a.Validate(); err != nil {
		return Auth{}, err
	}
	return a, nil
}

// Validate reports an unknown type or a field the type needs; the error
// wraps ErrInvalidAuth and names the field (never its value).
func (a Auth) Validate() error {
	var need []string
	switch a.Type {
	case "", AuthNone:
		return nil
	case AuthAPIKey:
		need = []string{"api_key", a.APIKey}
		if a.Location != "" && a.Location != LocationHeader && a.Location != LocationQuery {
			return invalid("field %q must be %q or %q", "location", LocationHeader, LocationQuery)
		}
	case AuthBearer:
		need = []string{"token", a.Token}
	case AuthBasic:
		need = []string{"username", a.Username, "password", a.Password}
	case AuthOAuth2ClientCredentials:
		need = []string{"token_url", a.TokenURL, "client_id", a.ClientID, "client_secret", a.ClientSecret}
	case AuthOIDCClientCredentials:
		need = []string{"issuer_url", a.IssuerURL, "client_id", a.ClientID, "client_secret", a.ClientSecret}
	case AuthOIDCUser:
		need = []string{"issuer_url", a.IssuerURL, "client_id", a.ClientID, "username", a.Username, "password", a.Password}
	default:
		return invalid("unknown auth type %q", a.Type)
	}
	for i := 0; i < len(need); i += 2 {
		if strings.TrimSpace(need[i+1]) == "" {
			return invalid("field %q is required for auth type %q", need[i], a.Type)
		}
	}
	if err := a.validateSendable(); err != nil {
		return err
	}
	if !a.usesTokenEndpoint() {
		return nil
	}
	for _, f := range [][2]string{{"token_url", a.TokenURL}, {"issuer_url", a.IssuerURL}} {
		if f[1] != "" && !isHTTPURL(f[1]) {
			return invalid("field %q must be an absolute http or https URL without credentials", f[0])
		}
	}
	if a.AuthMethod != "" && a.AuthMethod != AuthMethodBasic && a.AuthMethod != AuthMethodPost {
		return invalid("field %q must be %q or %q", "token_endpoint_auth_method", AuthMethodBasic, AuthMethodPost)
	}
	for k := range a.ExtraParams {
		if slices.Contains(reservedParams, k) || (k == "audience" && a.Audience != "") {
			return invalid("field %q must not set the reserved parameter %q", "extra_params", k)
		}
	}
	return nil
}

// validateSendable refuses credentials that can never be sent in a
// header: a CR, LF or other control character in a bearer token or in an
// API key (or its prefix) sent in a header, a header_name that is not a
// header field name, and a Basic user name with ':' (RFC 7617: the
// provider would split it there and read another user and password).
// Basic credentials are base64-encoded, so nothing else about them
// matters; the token endpoint grants send theirs in the form (or, for
// client_secret_basic, escaped then base64-encoded). The error names the
// field, never its value.
func (a Auth) validateSendable() error {
	const bad = "field %q holds a character a header may not (CR, LF or another control character)"
	switch a.Type {
	case AuthAPIKey:
		if a.inQuery() {
			return nil
		}
		if !httpguts.ValidHeaderFieldName(a.headerName()) {
			return invalid("field %q must be a valid HTTP header name", "header_name")
		}
		for _, f := range [][2]string{{"prefix", a.Prefix}, {"api_key", a.APIKey}} {
			if !validHeaderValue(f[1]) {
				return invalid(bad, f[0])
			}
		}
	case AuthBearer:
		if !validHeaderValue(a.Token) {
			return invalid(bad, "token")
		}
	case AuthBasic:
		if strings.Contains(a.Username, ":") {
			return invalid("field %q must not contain ':' (RFC 7617)", "username")
		}
	}
	return nil
}

// String describes a without its secrets.
func (a Auth) String() string {
	return fmt.Sprintf("provider.Auth{Type:%q HeaderName:%q Location:%q TokenURL:%q IssuerURL:%q ClientID:%q Username:%q Scopes:%q secrets:redacted}",
		a.Type, a.HeaderName, a.Location, a.TokenURL, a.IssuerURL, a.ClientID, a.Username, a.Scopes)
}

// GoString keeps %#v from printing secrets too.
func (a Auth) GoString() string { return a.String() }

func (a Auth) usesTokenEndpoint() bool {
	switch a.Type {
	case AuthOAuth2ClientCredentials, AuthOIDCClientCredentials, AuthOIDCUser:
		return true
	}
	return false
}

// typeName is the type as shown in results: "none" for the empty type.
func (a Auth) typeName() string {
	if a.Type == "" {
		return AuthNone
	}
	return a.Type
}

func (a Auth) headerName() string {
	if a.HeaderName == "" {
		return defaultAPIKeyHeader
	}
	return a.HeaderName
}

func (a Auth) queryParam() string {
	if a.QueryParam == "" {
		return defaultAPIKeyParam
	}
	return a.QueryParam
}

func (a Auth) inQuery() bool { return a.Type == AuthAPIKey && a.Location == LocationQuery }

// secrets lists every string whose appearance in an error or result would
// leak a credential, including the encoded forms that end up in URLs and
// Authorization headers.
func (a Auth) secrets() []string {
	raw := []string{a.APIKey, a.Token, a.Password, a.ClientSecret}
	if a.Type == AuthBasic {
		raw = append(raw, base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password)))
	}
	if a.usesTokenEndpoint() && a.ClientSecret != "" { // client_secret_basic, as x/oauth2 encodes it
		raw = append(raw, base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(a.ClientID)+":"+url.QueryEscape(a.ClientSecret))))
	}
	var out []string
	for _, s := range raw {
		if s == "" {
			continue
		}
		out = append(out, s)
		if q := url.QueryEscape(s); q != s {
			out = append(out, q)
		}
		// An endpoint may echo what it received as JSON: '"', '\' and
		// control characters escaped, '&', '<' and '>' too by default, and
		// '/' as '\/' (PHP's json_encode does; base64 secrets hold '/').
		for _, html := range []bool{true, false} {
			j := jsonEscaped(s, html)
			for _, form := range []string{j, strings.ReplaceAll(j, "/", `\/`)} {
				if form != s && !slices.Contains(out, form) {
					out = append(out, form)
				}
			}
		}
	}
	return out
}

// jsonEscaped is s as it reads inside a JSON string (without the quotes),
// with or without the escaping of '&', '<' and '>' that encoding/json
// applies by default.
func jsonEscaped(s string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		return s
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidAuth, fmt.Sprintf(format, args...))
}

func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// mapReader reads typed fields from a decoded JSON object, keeping the first
// type error.
type mapReader struct {
	m   map[string]any
	err error
}

func (r *mapReader) fail(field, want string) {
	if r.err == nil {
		r.err = invalid("field %q must be %s", field, want)
	}
}

func (r *mapReader) str(field string) string {
	v, ok := r.m[field]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.fail(field, "a string")
	}
	return s
}

func (r *mapReader) strs(field string) []string {
	switch v := r.m[field].(type) {
	case nil:
		return nil
	case string:
		return strings.Fields(v)
	case []string:
		return slices.Clone(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				r.fail(field, "an array of strings")
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	r.fail(field, "an array of strings")
	return nil
}

func (r *mapReader) strMap(field string) map[string]string {
	switch v := r.m[field].(type) {
	case nil:
		return nil
	case map[string]string:
		out := make(map[string]string, len(v))
		for k, s := range v {
			out[k] = s
		}
		return out
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, x := range v {
			s, ok := x.(string)
			if !ok {
				r.fail(field, "an object of strings")
				return nil
			}
			out[k] = s
		}
		return out
	}
	r.fail(field, "an object of strings")
	return nil
}
