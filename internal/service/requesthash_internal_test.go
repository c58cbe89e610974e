package service

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRequestHashIsEncodingJSONs: a request's fingerprint hashes the text
// encoding/json writes for it, although another encoder writes it, for
// every value decoded from JSON: a replay of a request accepted before the
// change still matches its stored hash.
func TestRequestHashIsEncodingJSONs(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		`{}`, `{"a":null}`, `{"amount":1e21,"small":1e-7,"int":9007199254740993,"neg":-0,"tiny":5e-324,"max":1.7976931348623157e308}`,
		`{"html":"<script>&amp;\u2028\u2029","ctl":"\t\n\r\"\\/\u0001\u001f","bad":"\ud800","emoji":"ação 💸"}`,
		`{"z":1,"a":{"y":[true,false,null,[],{}],"b":"x"},"m":[1.5,"2",{"k":"v"}]}`,
	} {
		var body map[string]any
		require.NoError(t, json.Unmarshal([]byte(text), &body))
		identity := map[string]any{"method": "POST", "path": "/hooks/<a&b>", "query": map[string]any{"q": "1 & 2"}, "body": body}
		want, err := json.Marshal(identity)
		require.NoError(t, err)
		sum := sha256.Sum256(append(want, "trigger-1"...))
		require.Equal(t, hex.EncodeToString(sum[:]), requestHash(identity, "trigger-1"), text)
	}
}
