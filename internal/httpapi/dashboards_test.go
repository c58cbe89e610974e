package httpapi_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// seedExecution inserts a finished execution started at (RFC 3339) straight
// into the harness's database: a series needs start times a test chooses.
func seedExecution(t *testing.T, db *sql.DB, workflowID, at, status string) {
	t.Helper()
	started, err := time.Parse(time.RFC3339, at)
	require.NoError(t, err)
	ts := started.UTC().Format("2006-01-02T15:04:05.000000Z")
	_, err = db.ExecContext(context.Background(), `INSERT INTO executions (id, workflow_id, workflow_revision,
		trigger_node_id, status, input, started_at, completed_at, updated_at) VALUES ($1, $2, 1, 't', $3, '{}', $4, $4, $4)`,
		uuid.NewString(), workflowID, status, ts)
	require.NoError(t, err)
}

// bucket is a series bucket as JSON decodes it; counts are status, n pairs.
func bucket(start, end string, counts ...any) map[string]any {
	byStatus, total := map[string]any{}, 0
	for i := 0; i+1 < len(counts); i += 2 {
		byStatus[counts[i].(string)] = float64(counts[i+1].(int))
		total += counts[i+1].(int)
	}
	return map[string]any{"start": start, "end": end, "total": float64(total), "byStatus": byStatus}
}

func TestExecutionSeries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	db, err := sql.Open("sqlite", "file:"+h.dbPath+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	wf, other := uuid.NewString(), uuid.NewString()
	for _, e := range []struct{ wf, at, status string }{
		{wf, "2026-10-23T22:59:59Z", "completed"},    // S1
		{wf, "2026-10-23T23:00:00Z", "completed"},    // S2: Lisbon's 24 October starts
		{other, "2026-10-24T12:00:00Z", "completed"}, // S3
		{wf, "2026-10-24T22:59:59Z", "failed"},       // S4
		{wf, "2026-10-24T23:00:00Z", "completed"},    // S5: Lisbon's 25 October starts (WEST, +01:00)
		{wf, "2026-10-25T23:30:00Z", "completed"},    // S6: 23:30 WET, still 25 October: a 25-hour day
		{wf, "2026-10-26T00:00:00Z", "cancelled"},    // S7
		{wf, "2026-10-27T00:00:00Z", "completed"},    // S8: at endTime, excluded
	} {
		seedExecution(t, db, e.wf, e.at, e.status)
	}
	series := func(query string) map[string]any {
		t.Helper()
		return h.expect(h.do("GET", "/v1/dashboards/executions/series?"+query, nil), http.StatusOK, "")
	}

	t.Run("days across the end of summer time", func(t *testing.T) {
		got := series("startTime=2026-10-23T23:00:00Z&endTime=2026-10-27T00:00:00Z&timezone=Europe/Lisbon")
		require.Equal(t, map[string]any{"interval": "day", "timezone": "Europe/Lisbon",
			"startTime": "2026-10-23T23:00:00Z", "endTime": "2026-10-27T00:00:00Z", "buckets": []any{
				bucket("2026-10-23T23:00:00Z", "2026-10-24T23:00:00Z", "completed", 2, "failed", 1),
				bucket("2026-10-24T23:00:00Z", "2026-10-26T00:00:00Z", "completed", 2), // 25 hours
				bucket("2026-10-26T00:00:00Z", "2026-10-27T00:00:00Z", "cancelled", 1),
			}}, got)
		one := series("startTime=2026-10-23T23:00:00Z&endTime=2026-10-27T00:00:00Z&timezone=Europe/Lisbon&workflowId=" + wf)
		require.Equal(t, bucket("2026-10-23T23:00:00Z", "2026-10-24T23:00:00Z", "completed", 1, "failed", 1),
			one["buckets"].([]any)[0], "S3 is another workflow's")
		// Spring forward: a 23-hour day.
		spring := series("startTime=2026-03-29T00:00:00Z&endTime=2026-03-29T23:00:00Z&timezone=Europe/Lisbon")
		require.Equal(t, []any{bucket("2026-03-29T00:00:00Z", "2026-03-29T23:00:00Z")}, spring["buckets"])
	})

	t.Run("the repeated hour is two hours", func(t *testing.T) {
		got := series("startTime=2026-10-25T00:00:00Z&endTime=2026-10-25T02:00:00Z&interval=hour&timezone=Europe/Lisbon")
		require.Equal(t, []any{
			bucket("2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"), // 01:00 WEST
			bucket("2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"), // 01:00 WET
		}, got["buckets"])
	})

	t.Run("a +05:30 zone", func(t *testing.T) {
		// Local days run 18:30Z to 18:30Z; the first extends before startTime,
		// where S2 is not counted.
		days := series("startTime=2026-10-24T00:00:00Z&endTime=2026-10-25T00:00:00Z&timezone=Asia/Kolkata")
		require.Equal(t, []any{
			bucket("2026-10-23T18:30:00Z", "2026-10-24T18:30:00Z", "completed", 1),
			bucket("2026-10-24T18:30:00Z", "2026-10-25T18:30:00Z", "completed", 1, "failed", 1),
		}, days["buckets"])
		hours := series("startTime=2026-10-24T22:00:00Z&endTime=2026-10-24T23:30:00Z&interval=hour&timezone=Asia/Kolkata")
		require.Equal(t, []any{
			bucket("2026-10-24T21:30:00Z", "2026-10-24T22:30:00Z"),
			bucket("2026-10-24T22:30:00Z", "2026-10-24T23:30:00Z", "completed", 1, "failed", 1),
		}, hours["buckets"])
	})

	t.Run("empty buckets, UTC by default", func(t *testing.T) {
		got := series("startTime=2026-10-20T00:00:00Z&endTime=2026-10-23T00:00:00Z")
		require.Equal(t, map[string]any{"interval": "day", "timezone": "UTC",
			"startTime": "2026-10-20T00:00:00Z", "endTime": "2026-10-23T00:00:00Z", "buckets": []any{
				bucket("2026-10-20T00:00:00Z", "2026-10-21T00:00:00Z"),
				bucket("2026-10-21T00:00:00Z", "2026-10-22T00:00:00Z"),
				bucket("2026-10-22T00:00:00Z", "2026-10-23T00:00:00Z"),
			}}, got)
	})

	t.Run("the ends of time the API takes", func(t *testing.T) {
		// The last local day or hour of 9999 ended in year 10000, no RFC
		// 3339 time (found by defect hunts): it ends at the last instant.
		const last = "9999-12-31T23:59:59.999999Z"
		for query, want := range map[string]string{
			"startTime=9999-12-30T00:00:00Z&endTime=9999-12-31T12:00:00Z":                              last,
			"startTime=9999-12-31T22:00:00Z&endTime=9999-12-31T23:30:00Z&interval=hour":                last,
			"startTime=9999-12-30T00:00:00Z&endTime=9999-12-31T12:00:00Z&timezone=America/Los_Angeles": last,
			"startTime=9999-12-30T00:00:00Z&endTime=9999-12-31T00:00:00Z":                              "9999-12-31T00:00:00Z",
		} {
			b := series(query)["buckets"].([]any)
			require.Equal(t, want, b[len(b)-1].(map[string]any)["end"], query)
		}
	})

	t.Run("at most 1000 buckets", func(t *testing.T) {
		start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for interval, end := range map[string]time.Time{"hour": start.Add(1000 * time.Hour), "day": start.AddDate(0, 0, 1000)} {
			q := func(end time.Time) string {
				return fmt.Sprintf("startTime=%s&endTime=%s&interval=%s", start.Format(time.RFC3339),
					end.Format(time.RFC3339), interval)
			}
			require.Len(t, series(q(end))["buckets"], 1000, interval)
			body := h.expect(h.do("GET", "/v1/dashboards/executions/series?"+q(end.Add(time.Second)), nil),
				http.StatusBadRequest, "FLK-0302")
			require.Contains(t, body["message"], "startTime to endTime spans more than 1000 "+interval+"s")
		}
	})

	t.Run("bad parameters", func(t *testing.T) {
		const from, to = "startTime=2026-10-01T00:00:00Z", "endTime=2026-10-02T00:00:00Z"
		for query, param := range map[string]string{
			"":                                     "startTime",
			from:                                   "endTime",
			to:                                     "startTime",
			"startTime=yesterday&" + to:            "startTime",
			from + "&endTime=tomorrow":             "endTime",
			"startTime=2026-10-03T00:00:00Z&" + to: "startTime",
			"startTime=2026-10-02T00:00:00Z&" + to: "startTime", // an empty range
			from + "&" + to + "&interval=week":     "interval",
			from + "&" + to + "&timezone=Mars/Olympus_Mons":                      "timezone",
			from + "&" + to + "&timezone=Local":                                  "timezone",
			from + "&" + to + "&timezone=" + url.QueryEscape("../../etc/passwd"): "timezone",
			from + "&" + to + "&workflowId=nope":                                 "workflowId",
			// NUL or invalid UTF-8: the shared text check answered FLK-0304
			// here (found by a defect hunt); every dashboard refusal is FLK-0302.
			"startTime=%00&" + to:                "startTime",
			from + "&" + to + "&timezone=UTC%00": "timezone",
			from + "&" + to + "&status=%ff":      "status",
		} {
			body := h.expect(h.do("GET", "/v1/dashboards/executions/series?"+query, nil), http.StatusBadRequest, "FLK-0302")
			require.Contains(t, body["message"], param, query)
		}
		h.expect(h.do("GET", "/v1/dashboards/executions?startTime=%00", nil), http.StatusBadRequest, "FLK-0302")
	})
}
