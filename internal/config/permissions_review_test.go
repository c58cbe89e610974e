package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/config"
)

// A permission string either is one, exactly, or is refused at start
// (API_KEY_PERMISSIONS) and grants nothing (a token): no empty group, no
// other case, no wildcard but reviews:decide:* itself, no spaces inside.
func TestPermissionStringsGrantNoMoreThanTheyName(t *testing.T) {
	t.Parallel()
	odd := []string{"reviews:decide:", "reviews:decide:**", "reviews:decide:*ops", "reviews:*", "Reviews:Decide",
		"REVIEWS:DECIDE:*", "reviews:decide: ops", "reviews:decide:a b", "reviews:decide:ops\n", "*", "workflows:*",
		"workflows:manage ", "workflows:Manage", "reviews:decide:" + string(make([]byte, 65))}
	require.Empty(t, config.Grant(odd), "none of these is a permission")
	require.Equal(t, []string{"reviews:decide:*"}, config.Grant([]string{"reviews:decide:*"}),
		"reviews:decide:* is one permission; it does not imply reviews:decide")
	require.Equal(t, []string{"reviews:decide:Ops"}, config.Grant([]string{"reviews:decide:Ops"}),
		"a group is case-sensitive, as a review node's group is")

	keys := map[string]string{"API_KEY_ENABLED": "true", "API_KEYS": "a:0123456789abcdef"}
	for _, p := range []string{"reviews:decide:", "reviews:decide:**", "Reviews:Decide", "reviews:decide: ops",
		"workflows:*", "reviews:*"} {
		kv := map[string]string{"API_KEY_PERMISSIONS": "a=" + p}
		for k, v := range keys {
			kv[k] = v
		}
		_, err := config.Load(env(kv))
		require.ErrorContains(t, err, "unknown permission", "%q", p)
	}
}
