package secret_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/secret"
)

func box(t *testing.T) *secret.Box {
	t.Helper()
	b, err := secret.NewBox([]byte(strings.Repeat("k", secret.KeySize)))
	require.NoError(t, err)
	return b
}

func config() map[string]any {
	return map[string]any{
		"base_url": "https://tracer.example",
		"api_key":  "sk_live_0123456789",
		"headers":  map[string]any{"X-Api-Key": "hdr-secret-9999", "Accept": "application/json"},
		"auth": map[string]any{
			"client_id": "flowker", "client_secret": "cs-abcdefgh", "scopes": []any{"a", "b"},
			"pin": 1234.0,
		},
		"nested": []any{map[string]any{"password": "pw-in-array"}},
	}
}

// pinSchema marks auth.pin writeOnly, as a catalog schema would.
var pinSchema = secret.SchemaPolicy([]byte(`{"properties": {"auth": {"properties": {"pin": {"writeOnly": true}}}}}`))

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	b := box(t)
	f := pinSchema
	sealed, err := b.Seal(config(), "config", f)
	require.NoError(t, err)

	raw, err := json.Marshal(sealed)
	require.NoError(t, err)
	for _, s := range []string{"sk_live_0123456789", "hdr-secret-9999", "cs-abcdefgh", "pw-in-array", "1234"} {
		require.NotContains(t, string(raw), s, "secret stored in clear")
	}
	require.Contains(t, string(raw), "https://tracer.example", "non-secrets stay readable")
	require.Contains(t, string(raw), `"client_id":"flowker"`)

	// A sealed document is plaintext to Seal: sealed again, it opens to
	// the ciphertexts, never to what they hold (a stored document is opened
	// before it is changed and sealed again: TestSealKeepsNoCiphertext).
	again, err := b.Seal(sealed, "config", f)
	require.NoError(t, err)
	require.NotEqual(t, sealed, again)
	once, err := b.Open(again, "config")
	require.NoError(t, err)
	require.Equal(t, sealed, once)

	opened, err := b.Open(sealed, "config")
	require.NoError(t, err)
	require.Equal(t, config(), opened)
}

func TestOpenRefusesWrongKeyAndMovedCiphertext(t *testing.T) {
	t.Parallel()
	sealed, err := box(t).Seal(config(), "config", secret.Policy{})
	require.NoError(t, err)

	other, err := secret.NewBox([]byte(strings.Repeat("x", secret.KeySize)))
	require.NoError(t, err)
	_, err = other.Open(sealed, "config")
	require.ErrorContains(t, err, "cannot decrypt")

	// A ciphertext copied into another secret field does not open there.
	sealed["headers"].(map[string]any)["X-Api-Key"] = sealed["api_key"]
	_, err = box(t).Open(sealed, "config")
	require.ErrorContains(t, err, "config.headers.X-Api-Key")
}

func TestMask(t *testing.T) {
	t.Parallel()
	m := secret.Mask(config(), pinSchema)
	require.Equal(t, "****6789", m["api_key"])
	require.Equal(t, "****9999", m["headers"].(map[string]any)["X-Api-Key"])
	require.Equal(t, "application/json", m["headers"].(map[string]any)["Accept"])
	require.Equal(t, "****efgh", m["auth"].(map[string]any)["client_secret"])
	require.Equal(t, "********", m["auth"].(map[string]any)["pin"], "non-strings are fully masked")
	require.Equal(t, "****rray", m["nested"].([]any)[0].(map[string]any)["password"])
	require.Equal(t, "********", secret.MaskValue("abcd"), "short strings are fully masked")
	require.Equal(t, "sk_live_0123456789", config()["api_key"], "the input is not modified")
}

func TestKeepMasked(t *testing.T) {
	t.Parallel()
	f := secret.Policy{}
	stored := config()
	update := secret.Mask(config(), f) // what a client read back
	update["auth"].(map[string]any)["client_secret"] = "brand-new-secret"
	delete(update, "nested")

	got, err := secret.KeepMasked(update, stored, f)
	require.NoError(t, err)
	require.Equal(t, "sk_live_0123456789", got["api_key"], "masked value keeps the stored secret")
	require.Equal(t, "hdr-secret-9999", got["headers"].(map[string]any)["X-Api-Key"])
	require.Equal(t, "brand-new-secret", got["auth"].(map[string]any)["client_secret"], "a new value replaces it")

	// An update that sends the secrets to another URL keeps none of them
	// masked: whoever may write but not read them would have them sent to
	// a host of their choosing (found by a defect hunt).
	var me *secret.MaskedError
	for _, move := range []func(m map[string]any){
		func(m map[string]any) { m["base_url"] = "https://new.example" },
		func(m map[string]any) { m["auth"].(map[string]any)["token_url"] = "https://collect.example/token" },
	} {
		moved := secret.Mask(config(), f)
		move(moved)
		_, err = secret.KeepMasked(moved, stored, f)
		require.ErrorAs(t, err, &me)
		require.True(t, me.Moved)
		require.Contains(t, me.Error(), "send the secret itself")
	}
	moved := secret.Mask(config(), f)
	moved["base_url"] = "https://new.example"
	moved["api_key"], moved["headers"] = "sk_live_new", map[string]any{"X-Api-Key": "hdr-new"}
	moved["auth"] = map[string]any{"client_secret": "cs-new"}
	delete(moved, "nested")
	_, err = secret.KeepMasked(moved, stored, f)
	require.NoError(t, err, "sent in full, the secrets may go to the new URL")

	_, err = secret.KeepMasked(map[string]any{"api_key": "****0000"}, stored, f)
	require.ErrorAs(t, err, &me)
	require.Equal(t, "api_key", me.Field)
	_, err = secret.KeepMasked(map[string]any{"token": "****abcd"}, stored, f)
	require.ErrorAs(t, err, &me, "a mask with nothing stored behind it is refused")
}

func TestKeys(t *testing.T) {
	t.Parallel()
	_, err := secret.NewBox([]byte("short"))
	require.Error(t, err)
	for _, k := range []string{
		"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",                     // base64
		"3031323334353637383930313233343536373839303132333435363738393031", // hex
	} {
		key, err := secret.ParseKey(k)
		require.NoError(t, err)
		require.Equal(t, "01234567890123456789012345678901", string(key))
	}
	_, err = secret.ParseKey("not-a-key")
	require.ErrorContains(t, err, "32 random bytes")

	path := filepath.Join(t.TempDir(), "data", "flowker.key")
	k1, err := secret.LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	k2, err := secret.LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.Equal(t, k1, k2, "the generated key is reused")
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

// TestRedactAllocatesPerChangeNotPerString: a value with nothing to hide
// costs Redact the same few allocations with 10 strings or 200 (it runs
// on the call details of every step).
func TestRedactAllocatesPerChangeNotPerString(t *testing.T) {
	strs := func(n int) map[string]any {
		m := map[string]any{}
		for i := range n {
			m["f"+strconv.Itoa(i)] = map[string]any{"v": "plain text"}
		}
		return m
	}
	few, many := strs(10), strs(200)
	a := testing.AllocsPerRun(50, func() { _ = secret.Redact(few) })
	b := testing.AllocsPerRun(50, func() { _ = secret.Redact(many) })
	require.Equal(t, a, b, "allocations with 10 strings and with 200")
}
