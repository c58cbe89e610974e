package httpapi_test

import (
	"database/sql"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

// A time a client bounds a list or a dashboard with, or a cursor carries,
// lies in UTC years 0001–9999, the range every store keeps in order:
// 9999-12-31T23:59:59-03:00, a common "until the end of time" written in a
// local offset, is year 10000 in UTC, which SQLite (comparing fixed-width
// text) sorted before 2026 — startedTo listed nothing and startedFrom
// everything. It is refused with the parameter's 400, as year 0000 (which
// PostgreSQL has not) is.
func TestTimeBoundsOutsideYears1To9999AreRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, at := range []string{"9999-12-31T23:59:59-03:00", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
		"9999-12-31T23:59:59.9999995Z"} { // the last: rounded up to the stored microsecond, year 10000
		v := url.QueryEscape(at)
		for path, code := range map[string]string{"/v1/executions?startedTo=" + v: "FLK-0305",
			"/v1/executions?startedFrom=" + v: "FLK-0305", "/v1/audit-events?dateFrom=" + v: "FLK-0305",
			"/v1/audit-events?dateTo=" + v: "FLK-0305", "/v1/dashboards/executions?endTime=" + v: "FLK-0302"} {
			h.expect(h.do("GET", path, nil), http.StatusBadRequest, code)
		}
		cur := flow.Cursor{ID: uuid.NewString(), SortValue: at, SortBy: flow.ExecutionSorts[0], Order: "DESC", Next: true}
		h.expect(h.do("GET", "/v1/executions?cursor="+url.QueryEscape(cur.Encode()), nil),
			http.StatusBadRequest, flow.CodeInvalidCursor)
	}
	// The range's very ends are kept, and bound what they say (found by a
	// review: rounded up, or made exclusive by a microsecond more, they
	// became year 10000, which SQLite sorted before 2026).
	db, err := sql.Open("sqlite", "file:"+h.dbPath+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	seedExecution(t, db, uuid.NewString(), "2026-10-24T12:00:00Z", "completed")
	last, first := url.QueryEscape(flow.MaxInstant.Format(time.RFC3339Nano)), "0001-01-01T00:00:00Z"
	require.Len(t, h.expect(h.do("GET", "/v1/executions?startedTo="+last+"&startedFrom="+first, nil), http.StatusOK, "")["items"], 1)
	require.Empty(t, h.expect(h.do("GET", "/v1/executions?startedFrom="+last, nil), http.StatusOK, "")["items"])
	require.Empty(t, h.expect(h.do("GET", "/v1/audit-events?dateFrom="+last, nil), http.StatusOK, "")["items"])
	summary := h.expect(h.do("GET", "/v1/dashboards/executions?startTime=2026-01-01T00:00:00Z&endTime="+last, nil), http.StatusOK, "")
	require.Equal(t, float64(1), summary["total"])
}

// An inclusive lower bound between two microseconds (times are stored to
// the microsecond) takes in only what started at or after it: the list
// rounded it down, and listed an execution half a microsecond before it
// that the dashboards' summary, rounding up, left out. The audit list's
// dateFrom did the same.
func TestLowerBoundsBelowAMicrosecond(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	db, err := sql.Open("sqlite", "file:"+h.dbPath+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	seedExecution(t, db, uuid.NewString(), "2026-10-24T12:00:00Z", "completed")

	bound := url.QueryEscape("2026-10-24T12:00:00.0000005Z") // after the start
	summary := h.expect(h.do("GET", "/v1/dashboards/executions?startTime="+bound, nil), http.StatusOK, "")
	require.Equal(t, float64(0), summary["total"])
	list := h.expect(h.do("GET", "/v1/executions?startedFrom="+bound, nil), http.StatusOK, "")
	require.Empty(t, list["items"], "started at 12:00:00.000000, before startedFrom")
	at := url.QueryEscape("2026-10-24T12:00:00Z")
	list = h.expect(h.do("GET", "/v1/executions?startedFrom="+at+"&startedTo="+at, nil), http.StatusOK, "")
	require.Len(t, list["items"], 1, "both bounds inclusive")

	h.expect(h.do("POST", "/v1/workflows", linear("audited")), http.StatusCreated, "")
	events := h.expect(h.do("GET", "/v1/audit-events", nil), http.StatusOK, "")["items"].([]any)
	require.NotEmpty(t, events)
	last := events[0].(map[string]any)
	ts, err := time.Parse(time.RFC3339Nano, last["timestamp"].(string))
	require.NoError(t, err)
	after := url.QueryEscape(ts.Add(500 * time.Nanosecond).Format(time.RFC3339Nano))
	got := h.expect(h.do("GET", "/v1/audit-events?dateFrom="+after, nil), http.StatusOK, "")["items"].([]any)
	for _, e := range got {
		require.NotEqual(t, last["eventId"], e.(map[string]any)["eventId"], "an event before dateFrom was listed")
	}
}
