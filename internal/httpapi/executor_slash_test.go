package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// An executor's baseUrl is compared as it is saved (one trailing slash
// dropped) by both of an update's checks: the URL sent as it was created,
// "https://host/", moves nothing, so the token sent back masked is kept —
// it was refused 400 "…changes a URL the secrets are sent to" while the
// 409 check already read it as no move (found by a review). A URL that
// does move still refuses the masked token.
func TestExecutorBaseURLWithTrailingSlashKeepsMaskedToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const base = "https://fraud.example.com/"
	id := h.createExecutor(executorBody("fraud-api", base, "bearer", map[string]any{"token": "bearer-token-0042"}))
	path := "/v1/executors/" + id
	masked := map[string]any{"token": "****0042"}

	upd := executorBody("fraud-api", base, "bearer", masked)
	upd["description"] = "same URL, sent as created"
	h.expect(h.do("PATCH", path, upd), http.StatusOK, "")
	got := h.expect(h.do("GET", path, nil), http.StatusOK, "")
	require.Equal(t, "same URL, sent as created", got["description"])
	require.Equal(t, "https://fraud.example.com", got["baseUrl"])
	require.Equal(t, masked, got["authentication"].(map[string]any)["config"], "the stored token is kept")

	moved := executorBody("fraud-api", "https://elsewhere.example.com/", "bearer", masked)
	r := h.expect(h.do("PATCH", path, moved), http.StatusBadRequest, "FLK-0001")
	require.Contains(t, r["message"], "changes a URL")
}

// Saving a baseUrl is idempotent: every trailing slash is dropped, so the
// URL read back and sent back as read moves nothing. One slash dropped per
// save made "…/v1//" read "…/v1/", which the next save read as a move and
// refused with the token sent back masked (found by a review).
func TestExecutorBaseURLSentBackAsReadMovesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for i, base := range []string{"https://fraud.example.com/v1//", "https://fraud.example.com///"} {
		name := fmt.Sprintf("fraud-api-%d", i)
		id := h.createExecutor(executorBody(name, base, "bearer", map[string]any{"token": "bearer-token-0042"}))
		path := "/v1/executors/" + id
		read := h.expect(h.do("GET", path, nil), http.StatusOK, "")["baseUrl"].(string)
		for range 2 {
			upd := executorBody(name, read, "bearer", map[string]any{"token": "****0042"})
			h.expect(h.do("PATCH", path, upd), http.StatusOK, "")
			require.Equal(t, read, h.expect(h.do("GET", path, nil), http.StatusOK, "")["baseUrl"], base)
		}
	}
}
