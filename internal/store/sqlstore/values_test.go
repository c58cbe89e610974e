package sqlstore_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store/sqlstore"
)

// TestHasEscapedNUL: the check runs on encoded JSON, where a NUL is the
// escape \u0000 and the typed text \u0000 is \\u0000.
func TestHasEscapedNUL(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"a\x00b":           true,
		"\x00":             true,
		`\u0000`:           false, // six characters typed by a user
		`\\u0000`:          false,
		"\\\x00":           true, // a backslash, then a NUL
		`\u00000`:          false,
		"\u2400 symbol":    false,
		"tail \\u0000\x00": true,
		"":                 false,
	}
	for in, want := range cases {
		b, err := json.Marshal(map[string]any{"v": in})
		require.NoError(t, err)
		require.Equal(t, want, sqlstore.HasEscapedNUL(b), "value %q encoded as %s", in, b)
		k, err := json.Marshal(map[string]any{in: 1})
		require.NoError(t, err)
		require.Equal(t, want, sqlstore.HasEscapedNUL(k), "key %q encoded as %s", in, k)
	}
}
