package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// storedHeader reads, from the database, the stored (sealed) value of a
// provider configuration's header.
func storedHeader(ctx context.Context, t *testing.T, db *sql.DB, id, header string) string {
	t.Helper()
	var raw string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT config FROM provider_configurations WHERE id = $1", id).Scan(&raw))
	var cfg map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &cfg))
	v, _ := cfg["headers"].(map[string]any)[header].(string)
	require.Contains(t, v, "enc:v1:", "stored sealed")
	return v
}

// TestReplacedSecretsLeaveTheFiles: what docs/security.md ("At rest")
// promises of SQLite. A secret's plaintext never reaches the database or
// its WAL; when a secret is replaced, its old ciphertext is gone from both
// files by the time the write that replaced it returns: secure_delete
// zeroes the old row's bytes in the page that replaces it, and the write
// is followed by a checkpoint that truncates the WAL. A reader of an older
// snapshot holds that checkpoint off until a write after it ends.
func TestReplacedSecretsLeaveTheFiles(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	// Each new secret is much shorter: the new row takes only the end of
	// the old one's space, and without secure_delete the start of the old
	// ciphertext would stay behind as free space in the page.
	first := "zq-first-header-SECRET-27182-" + strings.Repeat("x", 600)
	second := "zq-second-header-SECRET-16180-" + strings.Repeat("y", 300)
	const third = "zq-third-header-SECRET-14142"
	id := h.createProvider(map[string]any{"name": "rotating", "providerId": "http", "config": map[string]any{
		"base_url": "https://svc.example.com", "headers": map[string]any{"X-Auth-Token": first}}})

	db, err := sql.Open("sqlite", "file:"+h.dbPath)
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	stored := func() string { return storedHeader(ctx, t, db, id, "X-Auth-Token")[:48] } // enc:v1: and a random nonce: unique
	replace := func(secret string) {
		got := h.expect(h.do("GET", pcPath+"/"+id, nil), http.StatusOK, "")
		cfg := got["config"].(map[string]any)
		cfg["headers"].(map[string]any)["X-Auth-Token"] = secret
		h.expect(h.do("PATCH", pcPath+"/"+id, map[string]any{"config": cfg}), http.StatusOK, "")
	}
	old := stored()
	requireNoSecrets(t, "files", rawFiles(t, h.dbPath), []string{first})

	// gone: the old ciphertext is in neither file. At once, unless one of
	// the engine's background reads (due timers, heartbeats) was in
	// progress during the write's checkpoint: then its retry removes it
	// (the strict "when the write returns" is scrub_test.go's, with no
	// other reader). Without the checkpoint it would stay.
	gone := func(old string) {
		t.Helper()
		require.Eventually(t, func() bool { return !bytes.Contains(rawFiles(t, h.dbPath), []byte(old)) },
			2*time.Second, 10*time.Millisecond, "the old ciphertext lingers in the database or the WAL")
	}
	replace(second)
	require.NotContains(t, stored(), old)
	gone(old)
	requireNoSecrets(t, "files", rawFiles(t, h.dbPath), []string{first, second})

	// A reader in the middle of a read (its snapshot older than the write)
	// keeps the WAL's frames in use: the old ciphertext stays until a
	// write after the read ends.
	old = stored()
	reader, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	var n int
	require.NoError(t, reader.QueryRowContext(ctx, "SELECT count(*) FROM provider_configurations").Scan(&n))
	replace(third)
	require.True(t, bytes.Contains(rawFiles(t, h.dbPath), []byte(old)),
		"while a reader holds an older snapshot, the WAL may still hold the old ciphertext")
	require.NoError(t, reader.Rollback())
	h.expect(h.do("PATCH", pcPath+"/"+id, map[string]any{"description": "rotated"}), http.StatusOK, "")
	require.True(t, bytes.Contains(rawFiles(t, h.dbPath), []byte("rotated")))
	gone(old)
	requireNoSecrets(t, "files", rawFiles(t, h.dbPath), []string{first, second, third})
}
