package config_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/config"
)

func TestPermissionsAndGrant(t *testing.T) {
	t.Parallel()
	all := config.Permissions()
	require.Len(t, all, 15)
	require.True(t, slices.IsSorted(all))
	require.Contains(t, all, "workflows:read")
	require.Contains(t, all, "executor-configurations:manage")
	all[0] = "changed"
	require.NotEqual(t, "changed", config.Permissions()[0], "each call returns its own list")

	require.Equal(t, []string{"catalog:read", "executions:read", "workflows:manage", "workflows:read"},
		config.Grant([]string{"workflows:manage", "openid", "catalog:read", "workflows:read", "executions:read", "nope:x"}),
		":manage implies :read; unknown names grant nothing; sorted, no duplicates")
	require.Empty(t, config.Grant(nil))
	require.Equal(t, []string{"reviews:decide", "reviews:decide:kyc-team", "reviews:read"},
		config.Grant([]string{"reviews:decide:kyc-team", "reviews:decide", "reviews:decide:", "reviews:decide:a b"}),
		"reviews:decide implies reviews:read; reviews:decide:<group> is known for a well-formed group")
}

func TestAPIKeyPermissions(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"API_KEY_ENABLED": "true", "API_KEY": "k",
		"API_KEYS":            "reader:0123456789abcdef,analyst:fedcba9876543210,ops:aaaaaaaaaaaaaaaa",
		"API_KEY_PERMISSIONS": " reader = workflows:read | executions:read|dashboards:read ,analyst=executions:read|reviews:decide:kyc, ops=*"}))
	require.NoError(t, err)
	require.Equal(t, []config.APIKey{
		{ID: "default", Key: "k"}, // not listed: every permission
		{ID: "reader", Key: "0123456789abcdef", Permissions: []string{"workflows:read", "executions:read", "dashboards:read"}},
		{ID: "analyst", Key: "fedcba9876543210", Permissions: []string{"executions:read", "reviews:decide:kyc"}},
		{ID: "ops", Key: "aaaaaaaaaaaaaaaa"}, // *: every permission
	}, c.APIKeys)
}

func TestAPIKeyPermissionsInvalid(t *testing.T) {
	t.Parallel()
	keys := map[string]string{"API_KEY_ENABLED": "true", "API_KEYS": "reader:0123456789abcdef,ops:fedcba9876543210"}
	for name, tt := range map[string]struct {
		value string
		want  []string
	}{
		"unknown key id":     {"reader=workflows:read,ghost=workflows:read", []string{"entry 2", `"ghost"`, "no key has this id"}},
		"unknown permission": {"reader=workflows:read|workflows:write", []string{"entry 1", `"reader"`, `unknown permission "workflows:write"`, "workflows:manage"}},
		"empty list":         {"ops=workflows:read,reader=", []string{"entry 2", `"reader"`, "empty"}},
		"empty list of bars": {"reader= | ", []string{"entry 1", `"reader"`, "empty"}},
		"duplicate id":       {"reader=workflows:read,ops=*,reader=executions:read", []string{"entry 3", `"reader"`, "twice"}},
		"not id=list":        {"reader:workflows:read", []string{"entry 1", "id=permission|permission"}},
		"bad review group":   {"reader=reviews:decide:a/b", []string{"entry 1", `unknown permission "reviews:decide:a/b"`, "reviews:decide:<group>"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			kv := map[string]string{"API_KEY_PERMISSIONS": tt.value}
			for k, v := range keys {
				kv[k] = v
			}
			_, err := config.Load(env(kv))
			require.Error(t, err)
			require.Contains(t, err.Error(), "API_KEY_PERMISSIONS ")
			for _, s := range tt.want {
				require.Contains(t, err.Error(), s)
			}
			require.NotContains(t, err.Error(), "0123456789abcdef", "never a key")
		})
	}
	// Checked even with API keys disabled, like API_KEYS.
	_, err := config.Load(env(map[string]string{"API_KEY_PERMISSIONS": "ghost=workflows:read"}))
	require.ErrorContains(t, err, "API_KEY_PERMISSIONS entry 1")
}
