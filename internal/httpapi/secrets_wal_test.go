package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

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
// files once the WAL has been checkpointed and restarted: secure_delete
// zeroes the old row's bytes in the page that replaces it, and
// journal_size_limit(0) truncates the WAL when it restarts.
func TestReplacedSecretsLeaveTheFiles(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	// The new secret is much shorter: the new row takes only the end of the
	// old one's space, and without secure_delete the start of the old
	// ciphertext would stay behind as free space in the page.
	first := "zq-first-header-SECRET-27182-" + strings.Repeat("x", 600)
	const second = "zq-second-header-SECRET-16180"
	id := h.createProvider(map[string]any{"name": "rotating", "providerId": "http", "config": map[string]any{
		"base_url": "https://svc.example.com", "headers": map[string]any{"X-Auth-Token": first}}})

	db, err := sql.Open("sqlite", "file:"+h.dbPath)
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	old := storedHeader(ctx, t, db, id, "X-Auth-Token")[:48] // enc:v1: and a random nonce: unique
	requireNoSecrets(t, "files", rawFiles(t, h.dbPath), []string{first})

	got := h.expect(h.do("GET", pcPath+"/"+id, nil), http.StatusOK, "")
	cfg := got["config"].(map[string]any)
	cfg["headers"].(map[string]any)["X-Auth-Token"] = second
	h.expect(h.do("PATCH", pcPath+"/"+id, map[string]any{"config": cfg}), http.StatusOK, "")
	require.NotContains(t, storedHeader(ctx, t, db, id, "X-Auth-Token"), old)
	requireNoSecrets(t, "files", rawFiles(t, h.dbPath), []string{first, second})
	require.True(t, bytes.Contains(rawFiles(t, h.dbPath), []byte(old)),
		"until a checkpoint, the WAL may still hold the old ciphertext (this is what the guarantee is about)")

	// A checkpoint (SQLite runs one itself past 1000 WAL pages, and at
	// shutdown), then the next write restarts the WAL.
	var busy, logFrames, checkpointed int
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &checkpointed))
	require.Equal(t, 0, busy)
	require.Equal(t, logFrames, checkpointed, "every frame copied back")
	h.expect(h.do("PATCH", pcPath+"/"+id, map[string]any{"description": "rotated"}), http.StatusOK, "")
	raw := rawFiles(t, h.dbPath)
	require.True(t, bytes.Contains(raw, []byte("rotated")))
	require.False(t, bytes.Contains(raw, []byte(old)), "the old ciphertext lingers in the database or the WAL")
	requireNoSecrets(t, "files", raw, []string{first, second})
}
