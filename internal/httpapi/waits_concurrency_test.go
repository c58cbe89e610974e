package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Forty decisions at once by twenty identities: ten four-eyes reviews get
// two approvals each, and one more review an approval from all twenty.
// Every execution resumes exactly once: the call after its review is made
// once, its review recorded once.
func TestConcurrentDecisions(t *testing.T) {
	t.Parallel()
	var people []string
	for i := range 20 {
		people = append(people, fmt.Sprintf("analyst%02d", i))
	}
	e := newKeyedFlowEnv(t, nil, people, "")
	wf := e.activate(e.reviewFlow(map[string]any{"requiredApprovals": 2}))
	execs, reviews := make([]string, 11), make([]string, 11)
	for i := range execs {
		execs[i] = e.startAsync(wf, nil)
	}
	for i, ex := range execs {
		reviews[i] = e.openReview(ex)["id"].(string)
		e.awaitStatus(ex, "waiting")
	}

	type vote struct{ review, who string }
	var votes []vote
	for i := range 10 {
		votes = append(votes, vote{reviews[i], people[2*i]}, vote{reviews[i], people[2*i+1]})
	}
	for _, who := range people {
		votes = append(votes, vote{reviews[10], who})
	}
	answers := make([]string, len(votes)) // "status", or "status code" for an error
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, v := range votes {
		wg.Go(func() {
			<-start
			status, _, body, err := rawPost(e.base, "/v1/reviews/"+v.review+"/decisions",
				map[string]any{"decision": "approve"}, "X-API-Key", keyOf(v.who))
			code, _ := body["code"].(string)
			answers[i] = strings.TrimSpace(fmt.Sprintf("%d %s", status, code))
			if err != nil {
				answers[i] = err.Error()
			}
		})
	}
	close(start)
	wg.Wait()

	for i := range 20 {
		require.Equal(t, "201", answers[i], "four-eyes review of %s", votes[i].who)
	}
	tally := map[string]int{}
	for _, a := range answers[20:] {
		tally[a]++
	}
	require.Equal(t, map[string]int{"201": 2, "409 FLK-0521": 18}, tally,
		"the contested review: two approvals resolve it, the rest find it closed")

	for i, ex := range execs {
		res := e.await(ex, "completed")
		require.Len(t, stepsOf(t, res, "review"), 1, "execution %d", i)
		require.Len(t, stepsOf(t, res, "pay"), 1, "execution %d", i)
		rev := e.expect(e.do("GET", "/v1/reviews/"+reviews[i], nil), http.StatusOK, "")
		require.Equal(t, "resolved", rev["status"])
		require.Len(t, rev["votes"], 2, "execution %d", i)
	}
	calls := map[string]int{}
	for _, r := range e.fake.RequestsTo("/pay") {
		var body struct{ ExecutionID string }
		require.NoError(t, json.Unmarshal(r.Body, &body))
		calls[body.ExecutionID]++
	}
	want := map[string]int{}
	for _, ex := range execs {
		want[ex] = 1
	}
	require.Equal(t, want, calls, "one call after each review, none twice")
}
