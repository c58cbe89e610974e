package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// TestWebhookWaitIsNotPartOfTheFingerprint: ?wait= (synchronous mode)
// says how the caller wants to be answered, not what it asks for: the API
// start's fingerprint is its input and trigger only, and on a webhook
// `Prefer: wait=5` means the same as `?wait=5s`. A webhook delivery
// repeated with the same Idempotency-Key, body and query, differing only in
// how long it waits, is a replay of the first execution — not 422 FLK-0510
// (found by a defect hunt).
func TestWebhookWaitIsNotPartOfTheFingerprint(t *testing.T) {
	t.Parallel()
	env := newFlowEnv(t, nil)
	env.fake.Respond("/ledger", providertest.Response{Body: `{"posted":true}`})
	env.activate([]map[string]any{webhookNode("/replay-wait"), env.callNode("post", "/ledger")},
		[]map[string]any{edge("hook", "post")})

	body := map[string]any{"amount": 10}
	for _, c := range []struct{ name, first, again string }{
		{"sync then async", "?wait=5s", ""},
		{"async then sync", "", "?wait=5s"},
		{"query then longer query", "?wait=1s", "?wait=5s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := env.with(t)
			key := uuid.NewString()
			first := h.do("POST", "/v1/webhooks/replay-wait"+c.first, body, "Idempotency-Key", key)
			require.Contains(t, []int{http.StatusOK, http.StatusCreated}, first.status, string(first.body))
			id := first.header.Get("X-Webhook-Execution-ID")
			h.await(id, "completed")
			again := h.do("POST", "/v1/webhooks/replay-wait"+c.again, body, "Idempotency-Key", key)
			require.Equal(t, http.StatusOK, again.status, "the same delivery again is a replay: %s", again.body)
			require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
			require.Equal(t, id, again.header.Get("X-Webhook-Execution-ID"))
		})
	}
	// The same delivery, synchronous by header rather than by query.
	key := uuid.NewString()
	first := env.do("POST", "/v1/webhooks/replay-wait?wait=5s", body, "Idempotency-Key", key)
	env.expect(first, http.StatusOK, "")
	again := env.do("POST", "/v1/webhooks/replay-wait", body, "Idempotency-Key", key, "Prefer", "wait=5")
	require.Equal(t, http.StatusOK, again.status, "Prefer: wait=5 is ?wait=5s: %s", again.body)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
}

// TestWebhookIdempotencyKeyIsBounded: a webhook's Idempotency-Key is held
// to the API start's 255 characters (400 FLK-0509, nothing started). It was
// passed through unchecked, and PostgreSQL's unique index refused a long one
// with a 500 (found by a defect hunt).
func TestWebhookIdempotencyKeyIsBounded(t *testing.T) {
	t.Parallel()
	env := newFlowEnv(t, nil)
	env.activate([]map[string]any{webhookNode("/long-key"), outputNode("out", map[string]any{"ok": true})},
		[]map[string]any{edge("hook", "out")})
	r := env.do("POST", "/v1/webhooks/long-key", map[string]any{"n": 1}, "Idempotency-Key", strings.Repeat("k", 256))
	env.expect(r, http.StatusBadRequest, "FLK-0509")
	list := env.do("GET", "/v1/executions", nil)
	env.expect(list, http.StatusOK, "")
	require.Empty(t, list.json(t)["items"], "nothing started")
	r = env.do("POST", "/v1/webhooks/long-key", map[string]any{"n": 1}, "Idempotency-Key", strings.Repeat("k", 255))
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, r.status, string(r.body))
	list = env.do("GET", "/v1/executions", nil)
	require.Len(t, list.json(t)["items"], 1, "the list counts what was started")
}
