package httpapi_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

const opsKey = "ops-key-0123456789abcdef"

// auditHarness authenticates every request as API key "ops".
func auditHarness(t *testing.T) (*harness, func(method, path string, body any, headers ...string) response) {
	h := newHarness(t, map[string]string{"API_KEY_ENABLED": "true", "API_KEYS": "ops:" + opsKey,
		"SSRF_ALLOW_PRIVATE": "true"})
	return h, func(method, path string, body any, headers ...string) response {
		return h.do(method, path, body, append([]string{"X-API-Key", opsKey}, headers...)...)
	}
}

// TestEveryChangeIsAuditedOnce: each audited action leaves exactly one new
// event, of the right type, with the caller as actor and the request id.
func TestEveryChangeIsAuditedOnce(t *testing.T) {
	t.Parallel()
	h, do := auditHarness(t)
	fake := providertest.New(t)
	seen := 0
	expectEvent := func(r response, eventType, resourceID string) {
		t.Helper()
		require.Less(t, r.status, 300, string(r.body))
		page := h.expect(do("GET", "/v1/audit-events?sortOrder=ASC&limit=100", nil), http.StatusOK, "")
		items := page["items"].([]any)
		require.Len(t, items, seen+1, "exactly one new event after %s", eventType)
		e := items[seen].(map[string]any)
		seen++
		require.Equal(t, eventType, e["eventType"])
		require.Equal(t, resourceID, e["resourceId"])
		require.Equal(t, map[string]any{"type": "api_key", "id": "ops", "ipAddress": "127.0.0.1"}, e["actor"])
		require.Equal(t, r.header.Get("X-Request-Id"), e["requestId"])
		require.Len(t, e["hash"], 64)
	}

	r := do("POST", "/v1/workflows", linear("audited"))
	wf := r.json(t)["workflowId"].(string)
	expectEvent(r, "WORKFLOW_CREATED", wf)
	r = do("PUT", "/v1/workflows/"+wf, linear("audited"))
	expectEvent(r, "WORKFLOW_UPDATED", wf)
	r = do("POST", "/v1/workflows/"+wf+"/activate", nil)
	expectEvent(r, "WORKFLOW_ACTIVATED", wf)

	r = do("POST", "/v1/workflows/"+wf+"/executions?wait=5s", map[string]any{"inputData": map[string]any{}},
		"Idempotency-Key", "k1")
	exec := r.json(t)["executionId"].(string)
	// Synchronous: it started (the caller) and completed (the engine) in this call.
	page := h.expect(do("GET", "/v1/audit-events?resourceId="+exec+"&sortOrder=ASC", nil), http.StatusOK, "")
	require.Len(t, page["items"], 2)
	started, done := page["items"].([]any)[0].(map[string]any), page["items"].([]any)[1].(map[string]any)
	require.Equal(t, "EXECUTION_STARTED", started["eventType"])
	require.Equal(t, "ops", started["actor"].(map[string]any)["id"])
	require.Equal(t, "EXECUTION_COMPLETED", done["eventType"])
	require.Equal(t, map[string]any{"type": "system", "id": "flowker", "ipAddress": "0.0.0.0"}, done["actor"],
		"the engine finished it; no client, so the reference's unspecified address")
	seen += 2

	r = do("POST", "/v1/workflows/"+wf+"/deactivate", nil)
	expectEvent(r, "WORKFLOW_DEACTIVATED", wf)
	r = do("POST", "/v1/workflows/"+wf+"/draft", nil)
	expectEvent(r, "WORKFLOW_DRAFTED", wf)
	r = do("POST", "/v1/workflows/"+wf+"/clone", map[string]any{"name": "audited-copy"})
	expectEvent(r, "WORKFLOW_CLONED", r.json(t)["workflowId"].(string))
	r = do("DELETE", "/v1/workflows/"+wf, nil)
	expectEvent(r, "WORKFLOW_DELETED", wf)

	r = do("POST", "/v1/provider-configurations", map[string]any{"name": "tracer", "providerId": "tracer",
		"config": map[string]any{"base_url": fake.URL, "api_key": "tracer-key-1"}})
	pc := r.json(t)["id"].(string)
	expectEvent(r, "PROVIDER_CONFIG_CREATED", pc)
	for _, step := range []struct{ method, path, event string }{
		{"PATCH", "/v1/provider-configurations/" + pc, "PROVIDER_CONFIG_UPDATED"},
		{"POST", "/v1/provider-configurations/" + pc + "/disable", "PROVIDER_CONFIG_DISABLED"},
		{"POST", "/v1/provider-configurations/" + pc + "/enable", "PROVIDER_CONFIG_ENABLED"},
		{"POST", "/v1/provider-configurations/" + pc + "/test", "PROVIDER_CONFIG_TESTED"},
		{"DELETE", "/v1/provider-configurations/" + pc, "PROVIDER_CONFIG_DELETED"},
	} {
		var body any
		if step.method == "PATCH" {
			body = map[string]any{"description": "edited"}
		}
		expectEvent(do(step.method, step.path, body), step.event, pc)
	}

	r = do("POST", "/v1/executors", map[string]any{"name": "kyc", "baseUrl": fake.URL,
		"endpoints":      []map[string]any{{"name": "check", "path": "/check", "method": "GET"}},
		"authentication": map[string]any{"type": "none"}})
	ec := r.json(t)["id"].(string)
	expectEvent(r, "EXECUTOR_CONFIG_CREATED", ec)
	r = do("POST", "/v1/executors/"+ec+"/configure", nil)
	expectEvent(r, "EXECUTOR_CONFIG_CONFIGURED", ec)
	r = do("POST", "/v1/executors/"+ec+"/test", nil) // passes: EXECUTOR_CONFIG_TESTED, then the state change
	seen++
	expectEvent(r, "EXECUTOR_CONFIG_MARKED_TESTED", ec)
	for _, step := range []struct{ action, event string }{
		{"activate", "EXECUTOR_CONFIG_ACTIVATED"}, {"disable", "EXECUTOR_CONFIG_DISABLED"},
	} {
		expectEvent(do("POST", "/v1/executors/"+ec+"/"+step.action, nil), step.event, ec)
	}
	expectEvent(do("DELETE", "/v1/executors/"+ec, nil), "EXECUTOR_CONFIG_DELETED", ec)

	// Refused requests change nothing and record nothing.
	h.expect(do("POST", "/v1/workflows/"+wf+"/activate", nil), http.StatusNotFound, "FLK-0100")
	require.Len(t, h.expect(do("GET", "/v1/audit-events?limit=100", nil), http.StatusOK, "")["items"], seen)
}

func TestAuditVerifyAndFilters(t *testing.T) {
	t.Parallel()
	h, do := auditHarness(t)
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		do("POST", "/v1/workflows", linear(n))
	}
	for _, it := range h.expect(do("GET", "/v1/audit-events?sortOrder=asc", nil), http.StatusOK, "")["items"].([]any) {
		ids = append(ids, it.(map[string]any)["eventId"].(string))
	}
	require.Len(t, ids, 3)
	v := h.expect(do("GET", "/v1/audit-events/"+ids[2]+"/verify", nil), http.StatusOK, "")
	require.Equal(t, true, v["isValid"])
	require.EqualValues(t, 3, v["totalChecked"])
	v = h.expect(do("GET", "/v1/audit-events/"+ids[2]+"/verify?from="+ids[1], nil), http.StatusOK, "")
	require.EqualValues(t, 2, v["totalChecked"])

	// Paging by cursor.
	p1 := h.expect(do("GET", "/v1/audit-events?limit=2", nil), http.StatusOK, "")
	require.Equal(t, true, p1["hasMore"])
	p2 := h.expect(do("GET", "/v1/audit-events?limit=2&cursor="+url.QueryEscape(p1["nextCursor"].(string)), nil), http.StatusOK, "")
	require.Len(t, p2["items"], 1)
	require.Equal(t, ids[0], p2["items"].([]any)[0].(map[string]any)["eventId"])

	for _, tc := range []struct{ query, code string }{
		{"eventType=lowercase", "FLK-0304"}, {"action=EXPLODE", "FLK-0304"}, {"result=MAYBE", "FLK-0304"},
		{"resourceType=planet", "FLK-0304"}, {"limit=ten", "FLK-0304"}, {"cursor=abc", "INVALID_CURSOR"},
		{"resourceId=nope", "FLK-0002"}, {"dateFrom=yesterday", "FLK-0305"},
		{"dateFrom=2026-02-01T00:00:00Z&dateTo=2026-01-01T00:00:00Z", "FLK-0308"},
	} {
		h.expect(do("GET", "/v1/audit-events?"+tc.query, nil), http.StatusBadRequest, tc.code)
	}
	h.expect(do("GET", "/v1/audit-events/nope", nil), http.StatusBadRequest, "FLK-0002")
	h.expect(do("GET", "/v1/audit-events/00000000-0000-4000-8000-000000000000", nil), http.StatusNotFound, "FLK-0600")

	// A row altered behind the service's back is named by verify.
	raw, err := sql.Open("sqlite", "file:"+h.dbPath+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer raw.Close()
	for _, q := range []string{`DROP TRIGGER audit_events_no_update`,
		`UPDATE audit_events SET actor_id = 'mallory' WHERE event_id = '` + ids[1] + `'`} {
		_, err := raw.ExecContext(context.Background(), q)
		require.NoError(t, err)
	}
	v = h.expect(do("GET", "/v1/audit-events/"+ids[2]+"/verify", nil), http.StatusOK, "")
	require.Equal(t, false, v["isValid"])
	require.Equal(t, ids[1], v["firstInvalidId"])
	require.Contains(t, v["message"], "hash mismatch")
}

func TestDashboards(t *testing.T) {
	t.Parallel()
	h, do := auditHarness(t)
	empty := h.expect(do("GET", "/v1/dashboards/workflows/summary", nil), http.StatusOK, "")
	require.Equal(t, map[string]any{"total": float64(0), "active": float64(0), "byStatus": []any{}}, empty)
	wf := do("POST", "/v1/workflows", linear("dash")).json(t)["workflowId"].(string)
	do("POST", "/v1/workflows", linear("dash-2"))
	do("POST", "/v1/workflows/"+wf+"/activate", nil)
	sum := h.expect(do("GET", "/v1/dashboards/workflows/summary", nil), http.StatusOK, "")
	require.EqualValues(t, 2, sum["total"])
	require.EqualValues(t, 1, sum["active"])

	h.expect(do("POST", "/v1/workflows/"+wf+"/executions?wait=5s", map[string]any{"inputData": map[string]any{}},
		"Idempotency-Key", "k1"), http.StatusOK, "")
	ex := h.expect(do("GET", "/v1/dashboards/executions", nil), http.StatusOK, "")
	require.EqualValues(t, 1, ex["total"])
	require.EqualValues(t, 1, ex["completed"])
	none := h.expect(do("GET", "/v1/dashboards/executions?endTime=2020-01-01T00:00:00Z", nil), http.StatusOK, "")
	require.EqualValues(t, 0, none["total"])
	for _, q := range []string{"startTime=bad", "endTime=bad", "status=sleeping",
		"startTime=2026-02-01T00:00:00Z&endTime=2026-01-01T00:00:00Z"} {
		h.expect(do("GET", "/v1/dashboards/executions?"+q, nil), http.StatusBadRequest, "FLK-0302")
	}
}
