package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// HTTP_WRITE_TIMEOUT=0 is accepted (the server then has no write timeout),
// and the catalog write deadline derived from it was 0: every catalog
// write passed its deadline at once, 503 (found by a review). It keeps
// the default.
func TestWriteTimeoutZeroKeepsCatalogWrites(t *testing.T) {
	t.Parallel()
	p := start(t, "HTTP_WRITE_TIMEOUT=0")
	p.waitReady()
	code, body, err := postJSON(p.client, "http://"+p.addr+"/v1/provider-configurations", "", map[string]any{
		"name": "zero-timeout", "providerId": "http", "config": map[string]any{"base_url": "https://example.com"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, code, "a provider configuration with HTTP_WRITE_TIMEOUT=0: %v", body)
}
