package sqlstore_test

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store"
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

// TestMarshalJSONIsEncodingJSON: the stored text is encoding/json's (sorted
// keys, its escapes, NUL as \u0000 so it is refused), although another
// encoder writes it, and NaN and ±Inf are refused alike.
func TestMarshalJSONIsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, v := range []any{
		map[string]any{"bad\xff": "x\xfe\xffy", "html": "<>&\u2028\u2029", "f": 1e21, "g": 1e-7, "h": 123456789.0,
			"i": math.Copysign(0, -1), "j": 5e-324, "k": float64(1 << 53), "z": []any{}, "y": map[string]any{"b": 1.0, "a": 2.0}},
		[]any{nil, true, false, 0.1, 100.0, "\t\n\r\"\\/", map[string]any{}, json.RawMessage(`{"b":1,"a":2}`)},
		struct {
			A string `json:"a,omitempty"`
			B int    `json:"-"`
			C []byte
		}{A: "x", B: 1, C: []byte("bytes")},
	} {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, err := sqlstore.MarshalJSON("value", v, "{}")
		require.NoError(t, err)
		require.Equal(t, string(want), got)
	}
	// The text returned is its own: encoders reuse buffers, a stored value
	// must not change when the next one is encoded.
	first, err := sqlstore.MarshalJSON("value", map[string]any{"a": "first"}, "{}")
	require.NoError(t, err)
	_, err = sqlstore.MarshalJSON("value", map[string]any{"a": "other"}, "{}")
	require.NoError(t, err)
	require.Equal(t, `{"a":"first"}`, first)
	_, err = sqlstore.MarshalJSON("value", map[string]any{"a\x00": 1}, "{}")
	require.ErrorIs(t, err, store.ErrUnstorable)
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := sqlstore.MarshalJSON("value", map[string]any{"n": bad}, "{}")
		require.ErrorIs(t, err, store.ErrUnstorable, "%v", bad)
	}
}

// TestMarshalJSONConcurrent: callers on many goroutines at once (the
// writer's and the engine's) each get their own value's text, although
// the encoder's buffers are shared through a pool (run with -race).
func TestMarshalJSONConcurrent(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				v := map[string]any{"g": float64(g), "i": float64(i), "pad": strings.Repeat("x", i*37)}
				want, err := json.Marshal(v)
				require.NoError(t, err)
				got, err := sqlstore.MarshalJSON("value", v, "{}")
				require.NoError(t, err)
				require.Equal(t, string(want), got)
			}
		})
	}
	wg.Wait()
}
