package engine

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"flowker/internal/flow"
	"flowker/internal/provider"
	"flowker/internal/provider/providertest"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// A provider answer larger than the response limit (1 MiB) fails its
// step: it was cut, the cut JSON kept as text, the mapping found no field,
// and the step was recorded completed — a fraud provider's REJECT with a
// long evidence field read as no decision, and the workflow below approved
// the transaction (found by a defect hunt).
func TestAnswerOverTheLimitFailsTheStep(t *testing.T) {
	env := newTestEnv(t, nil)
	big := `{"decision":"REJECT","evidence":"` + strings.Repeat("x", 1<<20) + `"}` // a little over 1 MiB
	env.fake.Respond("/fraud", providertest.Response{Body: big})
	wf := env.workflow([]flow.Node{trig("t"),
		env.callNode("fraud", "/fraud", map[string]any{"outputMapping": mapping("body.decision", "decision")}),
		cond("rejected", `fraud.decision == "REJECT"`),
		output("reject", map[string]any{"decision": "REJECT"}), output("approve", map[string]any{"decision": "APPROVE"})},
		link("t", "fraud"), link("fraud", "rejected"), link("rejected", "reject", "true"), link("rejected", "approve", "false"))
	ex, steps := env.await(env.start(wf, nil))
	require.Equal(t, flow.ExecFailed, ex.Status, "ended with %v", ex.Output)
	require.Contains(t, ex.ErrorMessage, "over the response limit")
	require.Len(t, steps, 1)
	require.Equal(t, flow.StepFailed, steps[0].Status)
	require.Equal(t, true, steps[0].CallDetails["responseTruncated"])
	kept, _ := steps[0].CallDetails["responseBody"].(string)
	require.True(t, strings.HasPrefix(kept, `{"decision":"REJECT"`) && len(kept) < 4096,
		"its first 2 KiB kept, as a failed answer's: %.40q…", kept)
	require.Len(t, env.fake.RequestsTo("/fraud"), 1, "not retried: the same answer would come back")
}

// An answer with large headers completes its step, called once: the
// provider answered and the call succeeded. Only its record is bounded —
// the step keeps at most 64 KiB of headers, says it cut them
// (callDetails.responseHeadersTruncated) and keeps the small ones whole.
// A transport cap of 64 KiB failed the step instead, and over HTTP/2 (the
// transport forces it where offered) that was a connection error, retried:
// a POST the provider had processed sent again (found by a review).
func TestAnswerWithLargeHeadersRecordsThemCut(t *testing.T) {
	env := newTestEnv(t, nil)
	requireLargeHeadersRecordedCut(t, env, "HTTP/1.1")
}

// The same over HTTP/2, where a 64 KiB transport cap was a PROTOCOL_ERROR
// on the connection and the POST was sent again.
func TestAnswerWithLargeHeadersOverHTTP2RecordsThemCut(t *testing.T) {
	env := newHTTP2Env(t)
	requireLargeHeadersRecordedCut(t, env, "HTTP/2.0")
}

func requireLargeHeadersRecordedCut(t *testing.T, env *testEnv, proto string) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	for i := range 100 { // 100 KiB of headers
		h.Set(fmt.Sprintf("X-Trace-%03d", i), strings.Repeat("t", 1<<10))
	}
	env.fake.Respond("/post", providertest.Response{Body: `{"posted":true}`, Header: h})
	ex, steps := env.await(postOnce(t, env))
	require.Equal(t, flow.ExecCompleted, ex.Status, "ended with %q", ex.ErrorMessage)
	require.Len(t, env.fake.RequestsTo("/post"), 1, "called once: it answered")
	require.Equal(t, proto, env.fake.RequestsTo("/post")[0].Proto)
	require.Len(t, steps, 1)
	st := steps[0]
	require.Equal(t, flow.StepCompleted, st.Status)
	require.Equal(t, 1, st.Attempts)
	require.Equal(t, true, st.CallDetails["responseHeadersTruncated"])
	require.Nil(t, st.CallDetails["responseTruncated"], "the body was whole")
	out, _ := st.Output.(map[string]any)
	require.Equal(t, map[string]any{"posted": true}, out["body"])
	headers, _ := out["headers"].(map[string]any)
	size := 0
	for k, v := range headers {
		size += len(k) + len(v.(string))
	}
	require.LessOrEqual(t, size, 64<<10, "at most 64 KiB of headers recorded")
	require.Greater(t, size, 60<<10, "as many as fit")
	require.Equal(t, "application/json", headers["Content-Type"], "a small header kept whole")
	require.Len(t, headers["X-Trace-000"], 1<<10, "the first in name order kept whole")
	require.NotContains(t, headers, "X-Trace-099", "the last left out")
}

// An answer over the transport's bound on headers (1 MiB, memory only: no
// provider legitimately sends as much) fails its step without a retry,
// where net/http names it (HTTP/1.1 always): the provider answered, so it
// may have acted on the call, and would answer the same (found by a review:
// a POST was sent again). Over HTTP/2 it may be a bare connection error,
// retried as a transport error (docs/engine.md).
func TestAnswerOverTheHeadersBoundFailsTheStep(t *testing.T) {
	env := newTestEnv(t, nil)
	env.fake.Respond("/post", providertest.Response{Body: `{"posted":true}`,
		Header: http.Header{"X-Trace": {strings.Repeat("t", provider.MaxResponseHeaderBytes+1)}}})
	ex, _ := env.await(postOnce(t, env))
	require.Equal(t, flow.ExecFailed, ex.Status)
	require.Contains(t, ex.ErrorMessage, "provider answer unreadable")
	require.Contains(t, ex.ErrorMessage, "headers exceeded")
	require.Len(t, env.fake.RequestsTo("/post"), 1,
		"not sent again: it answered, so it may have posted, and would answer the same")
}

// newHTTP2Env is newTestEnv with a fake provider offering HTTP/2 over TLS
// (loopback) and a client trusting its certificate.
func newHTTP2Env(t *testing.T) *testEnv {
	t.Helper()
	raw, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	raw.UseAuditKey(storetest.AuditKey)
	fake := providertest.NewHTTP2(t)
	ca := x509.NewCertPool()
	ca.AddCert(fake.Certificate())
	return startEnvWith(t, raw, nil, zap.NewNop(), fake, provider.New(provider.Options{AllowPrivate: true, RootCAs: ca}))
}

// What a step records of an answer's headers: as they are below 64 KiB;
// above, cut the same way every time (sorted names), the small ones kept
// whole, one long value cut on a character, and said so.
func TestFlatHeadersBoundsTheRecord(t *testing.T) {
	small := http.Header{"Content-Type": {"application/json"}, "Set-Cookie": {"a=1", "b=2"}}
	got, cut := flatHeaders(small)
	require.False(t, cut)
	require.Equal(t, map[string]any{"Content-Type": "application/json", "Set-Cookie": "a=1, b=2"}, got)

	large := http.Header{"Content-Type": {"application/json"}, "A-Trace": {strings.Repeat("é", 50<<10)},
		"B-Trace": {strings.Repeat("t", 30<<10)}, "Z-Id": {"42"}}
	got, cut = flatHeaders(large)
	require.True(t, cut)
	for range 5 {
		again, _ := flatHeaders(large)
		require.Equal(t, got, again, "the same record for the same answer")
	}
	size := 0
	for k, v := range got {
		size += len(k) + len(v.(string))
	}
	require.LessOrEqual(t, size, recordedHeaderLimit)
	require.Equal(t, "application/json", got["Content-Type"])
	require.Equal(t, "42", got["Z-Id"])
	require.Len(t, got["B-Trace"], 30<<10, "fits whole once A-Trace did not")
	kept, _ := got["A-Trace"].(string)
	require.True(t, strings.HasSuffix(kept, "…") && utf8.ValidString(kept) && len(kept) < len(large.Get("A-Trace")), "cut: %d bytes", len(kept))
}

// postOnce runs a workflow that posts to the fake's /post until it ends,
// advancing the fake clock: a retry's backoff would run on it.
func postOnce(t *testing.T, env *testEnv) uuid.UUID {
	t.Helper()
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("post", "/post", nil)}, link("t", "post"))
	id := env.start(wf, nil)
	require.Eventually(t, func() bool {
		env.clock.Advance(time.Second)
		got, err := env.raw.GetExecution(context.Background(), id)
		return err == nil && got.Status.Terminal()
	}, waitLimit, 5*time.Millisecond)
	return id
}
