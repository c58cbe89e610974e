package secret_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/secret"
)

// HideCallbackTokens masks the token of every callback URL in a JSON-shaped
// value, anywhere in its strings, and changes nothing else: query values,
// credentials-looking names and other URLs stay (it shows data, it does not
// apply the log rules), and the value it was given is never modified.
func TestHideCallbackTokens(t *testing.T) {
	t.Parallel()
	const tok = "AZOQ8yVqd6mS0rVvZ3t5pA9Jb1qK3nX0cE2fT7hY-_wLmN4o"
	in := map[string]any{
		"callbackUrl": "https://flowker.example/v1/callbacks/" + tok,
		"nested":      []any{"say https://x/base/V1/Callbacks/" + tok + "?a=1 please", 3.5, nil, map[string]any{"u": "/v1//callbacks/" + tok}},
		"other":       "https://api.example/pay?token=abc",
		"password":    "hunter2",
		"count":       2.0,
	}
	out := secret.HideCallbackTokens(in).(map[string]any)
	require.Equal(t, map[string]any{
		"callbackUrl": "https://flowker.example/v1/callbacks/REDACTED",
		"nested":      []any{"say https://x/base/V1/Callbacks/REDACTED?a=1 please", 3.5, nil, map[string]any{"u": "/v1//callbacks/REDACTED"}},
		"other":       "https://api.example/pay?token=abc",
		"password":    "hunter2",
		"count":       2.0,
	}, out)
	require.Equal(t, "https://flowker.example/v1/callbacks/"+tok, in["callbackUrl"], "the input is not modified")
	require.Equal(t, "/v1//callbacks/"+tok, in["nested"].([]any)[3].(map[string]any)["u"])

	plain := map[string]any{"a": []any{"b", 1.0}, "c": "callbacks/ alone"}
	same := secret.HideCallbackTokens(plain).(map[string]any)
	same["probe"] = true
	require.Equal(t, true, plain["probe"], "nothing to hide: the same map, not a copy")
	require.Nil(t, secret.HideCallbackTokens(nil))
	var none map[string]any
	require.Nil(t, secret.HideCallbackTokens(none).(map[string]any))
	require.Equal(t, 1.5, secret.HideCallbackTokens(1.5))
}
