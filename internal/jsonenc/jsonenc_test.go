package jsonenc_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/jsonenc"
)

// TestSameTextAsEncodingJSON: what JSON values hold (escapes, invalid
// UTF-8, big and small numbers, negative zero, raw messages, structs with
// tags), written as encoding/json writes it, by both functions.
func TestSameTextAsEncodingJSON(t *testing.T) {
	t.Parallel()
	type tagged struct {
		A string `json:"a,omitempty"`
		B int    `json:"-"`
		C []byte
		D *int `json:"d"`
	}
	for _, v := range []any{
		map[string]any{"html": "<script>&amp;\u2028\u2029", "bad\xff": "x\xfe\xffy", "ctl": "\t\n\r\"\\/\x01\x1f",
			"big": json.Number("12345678901234567890123"), "e": 1e21, "small": 1e-7, "zero": math.Copysign(0, -1),
			"tiny": 5e-324, "max": math.MaxFloat64, "int": float64(1 << 53), "unicode": "ação 💸",
			"nested": []any{nil, true, false, []any{}, map[string]any{}, map[string]any{"b": 1.0, "a": 2.0}},
			"raw":    json.RawMessage(`{"b":1,"a":[2,3]}`)},
		[]any{}, map[string]any(nil), "plain", 42, tagged{A: "x", B: 1, C: []byte("bytes")},
	} {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, err := jsonenc.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
		appended, err := jsonenc.Append([]byte("prefix:"), v)
		require.NoError(t, err)
		require.Equal(t, "prefix:"+string(want), string(appended))
	}
}

// TestEncodingJSONsErrors: a value JSON cannot hold is refused with
// encoding/json's error, and Append leaves dst as it was.
func TestEncodingJSONsErrors(t *testing.T) {
	t.Parallel()
	for _, bad := range []any{math.NaN(), math.Inf(1), math.Inf(-1), make(chan int), func() {}} {
		v := map[string]any{"n": []any{bad}}
		_, want := json.Marshal(v)
		require.Error(t, want)
		_, err := jsonenc.Marshal(v)
		require.EqualError(t, err, want.Error())
		dst, err := jsonenc.Append([]byte("kept"), v)
		require.EqualError(t, err, want.Error())
		require.Equal(t, "kept", string(dst))
	}
}

// FuzzSameTextAsEncodingJSON: any JSON document, decoded as Flowker decodes
// (numbers as float64, or as json.Number), is written as encoding/json
// writes it. Stored request fingerprints depend on it.
func FuzzSameTextAsEncodingJSON(f *testing.F) {
	for _, seed := range []string{`{}`, `[]`, `null`, `{"a":[1,2.5,-0,1e21,1e-7,"<&>"],"b":{"\u2028":true}}`,
		`{"big":12345678901234567890123,"s":"\ud800\udc00\ud800 \u0000\t\"\\"}`, `"\xff\xfe"`, `[1.7976931348623157e308,5e-324]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var plain any
		if json.Unmarshal(doc, &plain) == nil {
			requireSameText(t, plain)
		}
		d := json.NewDecoder(bytes.NewReader(doc))
		d.UseNumber()
		var numbers any
		if d.Decode(&numbers) == nil {
			requireSameText(t, numbers)
		}
	})
}

func requireSameText(t *testing.T, v any) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, err := jsonenc.Marshal(v)
	if wantErr != nil {
		require.EqualError(t, err, wantErr.Error())
		return
	}
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}
