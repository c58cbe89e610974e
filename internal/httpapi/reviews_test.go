package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// Review tasks end to end: an execution reaching a review node waits, holds
// no worker, and goes on through the edge its decision names.

// Four-eyes: requiredApprovals 2 needs two identities; one approval leaves
// the execution waiting, the same identity again is refused, a second
// identity resolves it, and each decision is audited with its actor.
func TestReviewFourEyes(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, []string{"alice", "bob", "carol"}, "")
	e.fake.Respond("/pay", okJSON(map[string]any{"paid": true}))
	wf := e.activate(e.reviewFlow(map[string]any{"title": "Large transfer", "instructions": "Check the payee.",
		"requiredApprovals": 2, "context": []map[string]any{{"source": "workflow.amount", "target": "amount"}}}))
	id := e.startAsync(wf, map[string]any{"amount": 5000, "payee": "ACME"})

	rev := e.openReview(id)
	rid := rev["id"].(string)
	require.Equal(t, map[string]any{"id": rid, "executionId": id, "workflowId": wf, "nodeId": "review",
		"status": "open", "title": "Large transfer", "instructions": "Check the payee.",
		"context": map[string]any{"amount": float64(5000)}, "decisions": []any{"approve", "reject"},
		"requiredApprovals": float64(2), "createdAt": rev["createdAt"], "votes": []any{}}, rev)
	require.Equal(t, "waiting", e.status(id))
	require.Equal(t, rev, e.expect(e.do("GET", "/v1/reviews/"+rid, nil), http.StatusOK, ""))

	first := e.expect(e.as("alice").decide(rid, "approve", "payee verified"), http.StatusCreated, "")
	require.Equal(t, "open", first["status"], "one approval of two")
	require.Equal(t, []any{map[string]any{"decision": "approve", "comment": "payee verified",
		"actor": map[string]any{"type": "api_key", "id": "alice"}, "decidedAt": first["votes"].([]any)[0].(map[string]any)["decidedAt"]}},
		first["votes"])
	require.NotContains(t, first, "decision")
	require.Equal(t, "waiting", e.status(id))
	e.expect(e.as("alice").decide(rid, "approve"), http.StatusConflict, "FLK-0522")

	second := e.as("bob").do("POST", "/v1/reviews/"+rid+"/decisions", map[string]any{"decision": "approve"})
	require.Equal(t, "/v1/reviews/"+rid, second.header.Get("Location"))
	resolved := e.expect(second, http.StatusCreated, "")
	require.Equal(t, "resolved", resolved["status"])
	require.Equal(t, "approve", resolved["decision"])
	require.NotEmpty(t, resolved["resolvedAt"])
	require.Len(t, resolved["votes"], 2)

	res := e.await(id, "completed")
	require.Equal(t, map[string]string{"review": "completed", "pay": "completed",
		"rejected": "skipped"}, statuses(t, res))
	out := step(t, res, "review")["output"].(map[string]any)
	require.Equal(t, "approve", out["decision"])
	require.Equal(t, false, out["expired"])
	require.Len(t, e.waitCalls("/pay", 1), 1)
	e.expect(e.as("carol").decide(rid, "reject"), http.StatusConflict, "FLK-0521")

	events := e.expect(e.do("GET", "/v1/audit-events?eventType=REVIEW_DECISION&resourceId="+rid+"&sortOrder=ASC", nil),
		http.StatusOK, "")["items"].([]any)
	require.Len(t, events, 2, "the refused decisions are not recorded")
	for i, who := range []string{"alice", "bob"} {
		ev := events[i].(map[string]any)
		require.Equal(t, "review", ev["resourceType"])
		require.Equal(t, "DECIDE", ev["action"])
		require.Equal(t, "api_key", ev["actor"].(map[string]any)["type"])
		require.Equal(t, who, ev["actor"].(map[string]any)["id"])
		require.Equal(t, i == 1, ev["metadata"].(map[string]any)["resolved"])
	}
}

// Any decision other than approve resolves the review at once, through
// its own edge, even under four-eyes.
func TestReviewRejectResolvesAtOnce(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, []string{"alice"}, "")
	wf := e.activate(e.reviewFlow(map[string]any{"requiredApprovals": 2}))
	id := e.startAsync(wf, nil)
	rev := e.openReview(id)
	require.Equal(t, "Review", rev["title"], "the default title")

	got := e.expect(e.as("alice").decide(rev["id"].(string), "reject"), http.StatusCreated, "")
	require.Equal(t, "resolved", got["status"])
	require.Equal(t, "reject", got["decision"])
	res := e.await(id, "completed")
	require.Equal(t, map[string]any{"decision": "REJECT"}, res["finalOutput"])
	require.Equal(t, "skipped", statuses(t, res)["pay"])
	require.Empty(t, e.fake.RequestsTo("/pay"))
}

// What a decision is refused for: the route's and the group's permission,
// the body, the review's decisions, an unknown review.
func TestReviewDecisionRefusals(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, []string{"alice", "bob", "reader", "any"},
		"alice=reviews:decide|reviews:decide:payments, bob=reviews:decide|reviews:decide:kyc, reader=reviews:read, "+
			"any=reviews:decide|reviews:decide:*")
	wf := e.activate(e.reviewFlow(map[string]any{"group": "payments", "decisions": []string{"approve", "reject", "escalate"}}))
	rid := e.openReview(e.startAsync(wf, nil))["id"].(string)

	// Reading needs reviews:read, which reviews:decide includes.
	e.as("reader").expect(e.as("reader").do("GET", "/v1/reviews/"+rid, nil), http.StatusOK, "")
	e.as("bob").expect(e.as("bob").do("GET", "/v1/reviews?group=payments", nil), http.StatusOK, "")
	e.as("reader").expectAuthError(e.as("reader").decide(rid, "approve"), http.StatusForbidden,
		"missing permission reviews:decide")
	// A group's review needs reviews:decide:<group> too.
	r := e.as("bob").decide(rid, "approve")
	e.expect(r, http.StatusForbidden, "FORBIDDEN")
	require.Contains(t, string(r.body), "reviews:decide:payments")

	for _, body := range []any{
		map[string]any{"decision": "maybe"},                     // not one of its decisions
		map[string]any{"comment": "no decision"},                // decision missing
		map[string]any{"decision": "approve", "reason": "typo"}, // unknown field
		map[string]any{"decision": "approve", "comment": strings.Repeat("x", 2001)},
		`{"decision": `,
	} {
		e.expect(e.as("alice").do("POST", "/v1/reviews/"+rid+"/decisions", body), http.StatusBadRequest, "FLK-0001")
	}
	e.expect(e.as("alice").decide("not-a-uuid", "approve"), http.StatusBadRequest, "FLK-0002")
	e.expect(e.as("alice").decide(uuid.NewString(), "approve"), http.StatusNotFound, "FLK-0520")
	e.expect(e.do("GET", "/v1/reviews/"+uuid.NewString(), nil), http.StatusNotFound, "FLK-0520")
	e.expect(e.do("GET", "/v1/reviews/nope", nil), http.StatusBadRequest, "FLK-0002")
	require.Equal(t, "open", e.expect(e.do("GET", "/v1/reviews/"+rid, nil), http.StatusOK, "")["status"],
		"nothing refused was recorded")

	// A holder of the group's permission, or of reviews:decide:*, decides.
	got := e.expect(e.as("any").decide(rid, "escalate"), http.StatusCreated, "")
	require.Equal(t, "escalate", got["decision"])
	e.expect(e.as("alice").decide(rid, "approve"), http.StatusConflict, "FLK-0521")
}

// The list: filters, paging as every other list, and its refusals.
func TestReviewList(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, []string{"alice"}, "")
	wfA := e.activate(e.reviewFlow(map[string]any{"group": "kyc"}))
	wfB := e.activate(e.reviewFlow(nil))
	a1, a2, b1 := e.startAsync(wfA, nil), e.startAsync(wfA, nil), e.startAsync(wfB, nil)
	var ids []string
	for _, ex := range []string{a1, a2, b1} {
		ids = append(ids, e.openReview(ex)["id"].(string))
	}
	e.expect(e.as("alice").decide(ids[1], "reject"), http.StatusCreated, "")

	list := func(query string) []string {
		t.Helper()
		var out []string
		for _, it := range e.expect(e.do("GET", "/v1/reviews"+query, nil), http.StatusOK, "")["items"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}
	require.ElementsMatch(t, ids, list(""))
	require.ElementsMatch(t, []string{ids[0], ids[2]}, list("?status=open"))
	require.Equal(t, []string{ids[1]}, list("?status=resolved"))
	require.ElementsMatch(t, ids[:2], list("?workflowId="+wfA))
	require.Equal(t, []string{ids[0]}, list("?workflowId="+wfA+"&status=open&group=kyc"))
	require.Empty(t, list("?group=none"))
	require.ElementsMatch(t, ids, list("?olderThan=0s"))
	require.Empty(t, list("?olderThan=1h"), "none is an hour old")
	require.Empty(t, list("?workflowId="+uuid.Nil.String()))
	require.Equal(t, []string{ids[1]}, list("?executionId="+a2))
	require.Empty(t, list("?executionId="+uuid.Nil.String()))

	// Newest first; sortOrder=ASC oldest first; pages of one with the cursor.
	asc := list("?sortOrder=ASC")
	require.ElementsMatch(t, ids, asc)
	require.Equal(t, []string{asc[2], asc[1], asc[0]}, list(""))
	var paged []string
	cursor := ""
	for range 3 {
		page := e.expect(e.do("GET", "/v1/reviews?limit=1&sortOrder=ASC&cursor="+cursor, nil), http.StatusOK, "")
		require.Len(t, page["items"], 1)
		paged = append(paged, page["items"].([]any)[0].(map[string]any)["id"].(string))
		cursor, _ = page["nextCursor"].(string)
	}
	require.Equal(t, asc, paged)
	require.Empty(t, cursor)

	for query, code := range map[string]string{"?status=waiting": "FLK-0304", "?olderThan=yesterday": "FLK-0304",
		"?olderThan=-1h": "FLK-0304", "?limit=0": "FLK-0304", "?sortBy=dueAt": "FLK-0304", "?sortOrder=up": "FLK-0310",
		"?workflowId=x": "FLK-0002", "?executionId=x": "FLK-0002", "?cursor=junk": "INVALID_CURSOR"} {
		e.expect(e.do("GET", "/v1/reviews"+query, nil), http.StatusBadRequest, code)
	}
}

// Cancelling a waiting execution cancels it at once and closes its
// review: a decision afterwards is refused.
func TestCancelWaitingExecution(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, []string{"alice"}, "")
	wf := e.activate(e.reviewFlow(nil))
	id := e.startAsync(wf, nil)
	rid := e.openReview(id)["id"].(string)
	e.awaitStatus(id, "waiting")
	waiting := e.expect(e.do("GET", "/v1/executions?status=waiting&workflowId="+wf, nil), http.StatusOK, "")
	require.Len(t, waiting["items"], 1)

	got := e.expect(e.do("POST", "/v1/executions/"+id+"/cancel", nil), http.StatusOK, "")
	require.Equal(t, "cancelled", got["status"], "no worker holds it: cancelled at once")
	require.Equal(t, "cancelled", e.expect(e.do("GET", "/v1/reviews/"+rid, nil), http.StatusOK, "")["status"])
	e.expect(e.as("alice").decide(rid, "approve"), http.StatusConflict, "FLK-0521")
	require.Empty(t, e.expect(e.do("GET", "/v1/executions?status=waiting&workflowId="+wf, nil), http.StatusOK, "")["items"])
	require.Equal(t, "cancelled", e.status(id))
	require.Empty(t, e.fake.RequestsTo("/pay"))
}

// Synchronous mode that reaches a review answers 202 with the execution
// waiting, as soon as it waits.
func TestSyncStartReachingReview(t *testing.T) {
	t.Parallel()
	e := newKeyedFlowEnv(t, nil, nil, "")
	wf := e.activate(e.reviewFlow(nil))
	began := time.Now()
	r := e.start(wf, "?wait=20s", nil)
	require.Less(t, time.Since(began), 10*time.Second, "answered when it began to wait, not when the wait ran out")
	got := e.expect(r, http.StatusAccepted, "")
	require.Equal(t, "waiting", got["status"])
	require.Empty(t, r.header.Get("Preference-Applied"))
	e.openReview(got["executionId"].(string))
}
