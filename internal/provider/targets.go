package provider

import (
	"fmt"
	"net/http"
)

// baseURLKeys are the config keys that may hold a provider's base URL, in
// the order the connectivity test prefers them.
var baseURLKeys = []string{"base_url", "onboarding_base_url", "transaction_base_url"}

// TargetFor derives how to reach and authenticate to a catalog provider
// from its plaintext configuration: the same derivation serves the
// connectivity test and executor calls, so a passing test means a working call.
//   - tracer: api_key in the X-API-Key header;
//   - midaz: an auth object means OIDC client credentials at issuer_url;
//   - http (and any other): an auth object in AuthFromMap's shape.
//
// Every provider may add static headers under "headers"; a name or value
// HTTP cannot carry is refused (CheckHeaders), as is an auth block whose
// credentials could not be sent (Auth.Validate).
func TargetFor(providerID string, cfg map[string]any) (TestTarget, error) {
	t := TestTarget{Header: http.Header{}}
	for _, k := range baseURLKeys {
		if s, _ := cfg[k].(string); s != "" {
			t.BaseURL = s
			break
		}
	}
	if headers, ok := cfg["headers"].(map[string]any); ok {
		for k, v := range headers {
			if s, ok := v.(string); ok {
				t.Header.Set(k, s)
			}
		}
		if err := CheckHeaders(t.Header); err != nil {
			return t, fmt.Errorf("headers: %w", err)
		}
	}
	auth, _ := cfg["auth"].(map[string]any)
	var err error
	switch {
	case providerID == "tracer":
		key, _ := cfg["api_key"].(string)
		t.Auth = Auth{Type: AuthAPIKey, APIKey: key, HeaderName: "X-API-Key"}
		err = t.Auth.Validate()
	case providerID == "midaz" && len(auth) > 0:
		m := map[string]any{"type": AuthOIDCClientCredentials}
		for k, v := range auth {
			m[k] = v
		}
		t.Auth, err = AuthFromMap(m)
	case len(auth) > 0:
		t.Auth, err = AuthFromMap(auth)
	}
	if err != nil {
		return t, fmt.Errorf("auth: %w", err)
	}
	return t, nil
}
