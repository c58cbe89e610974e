package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

// TestWorkflowLifecycle walks every transition through HTTP and checks each
// status and error code on the way.
func TestWorkflowLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	// Create a draft without a trigger.
	body := linear("payments")
	body["nodes"] = body["nodes"].([]map[string]any)[1:]
	body["edges"] = []any{}
	created := h.expect(h.do("POST", "/v1/workflows", body), http.StatusCreated, "")
	id := created["workflowId"].(string)
	require.Equal(t, "draft", created["status"])
	require.Equal(t, "1", created["version"])
	require.EqualValues(t, 1, created["revision"])
	path := "/v1/workflows/" + id

	got := h.expect(h.do("GET", path, nil), http.StatusOK, "")
	require.Equal(t, "payments", got["name"])
	require.Equal(t, created["createdAt"], got["createdAt"], "create and read agree to the microsecond")

	// Update it; still no trigger.
	body["description"] = "second draft"
	upd := h.expect(h.do("PUT", path, body), http.StatusOK, "")
	require.EqualValues(t, 2, upd["revision"])
	require.Equal(t, "second draft", upd["description"])

	// Activation is refused without a trigger, and changes nothing.
	h.expect(h.do("POST", path+"/activate", nil), http.StatusUnprocessableEntity, "FLK-0116")
	require.EqualValues(t, 2, h.expect(h.do("GET", path, nil), http.StatusOK, "")["revision"])

	// Fix it, then activate.
	h.expect(h.do("PUT", path, linear("payments")), http.StatusOK, "")
	act := h.expect(h.do("POST", path+"/activate", nil), http.StatusOK, "")
	require.Equal(t, "active", act["status"])
	require.EqualValues(t, 4, act["revision"])

	// An active workflow cannot be edited, deleted or activated again.
	h.expect(h.do("PUT", path, linear("payments")), http.StatusUnprocessableEntity, "FLK-0103")
	h.expect(h.do("DELETE", path, nil), http.StatusUnprocessableEntity, "FLK-0103")
	h.expect(h.do("POST", path+"/activate", nil), http.StatusUnprocessableEntity, "FLK-0102")
	h.expect(h.do("POST", path+"/draft", nil), http.StatusUnprocessableEntity, "FLK-0102")

	// Deactivate, then back to draft.
	require.Equal(t, "inactive", h.expect(h.do("POST", path+"/deactivate", nil), http.StatusOK, "")["status"])
	h.expect(h.do("POST", path+"/deactivate", nil), http.StatusUnprocessableEntity, "FLK-0102")
	dr := h.expect(h.do("POST", path+"/draft", nil), http.StatusOK, "")
	require.Equal(t, "draft", dr["status"])
	require.EqualValues(t, 6, dr["revision"])

	// Clone: a new draft with the same graph; names stay unique.
	cl := h.expect(h.do("POST", path+"/clone", map[string]any{"name": "payments-copy"}), http.StatusCreated, "")
	require.NotEqual(t, id, cl["workflowId"])
	copyWF := h.expect(h.do("GET", "/v1/workflows/"+cl["workflowId"].(string), nil), http.StatusOK, "")
	require.Equal(t, got["id"], id)
	require.Len(t, copyWF["nodes"], 2)
	require.Equal(t, "draft", copyWF["status"])
	h.expect(h.do("POST", path+"/clone", map[string]any{"name": "payments-copy"}), http.StatusConflict, "FLK-0101")
	h.expect(h.do("POST", path+"/clone", map[string]any{"name": ""}), http.StatusBadRequest, "FLK-0110")

	// Delete, and it is gone.
	require.Equal(t, http.StatusNoContent, h.do("DELETE", path, nil).status)
	h.expect(h.do("GET", path, nil), http.StatusNotFound, "FLK-0100")
	h.expect(h.do("DELETE", path, nil), http.StatusNotFound, "FLK-0100")
	h.expect(h.do("POST", path+"/activate", nil), http.StatusNotFound, "FLK-0100")
}

// TestBadInput: every kind of bad request gets its 4xx and code, and none
// of them changes anything.
func TestBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"HTTP_MAX_BODY_BYTES": "4096"})
	id := h.expect(h.do("POST", "/v1/workflows", linear("existing")), http.StatusCreated, "")["workflowId"].(string)
	path := "/v1/workflows/" + id
	before := h.do("GET", "/v1/workflows", nil).body

	withGraph := func(mod func(b map[string]any)) map[string]any {
		b := linear("new-one")
		mod(b)
		return b
	}
	cursor := func(c flow.Cursor) string { return c.Encode() }
	tests := []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		code               string
	}{
		{"no content type", "POST", "/v1/workflows", nil, []string{"X-Raw", "1"}, 400, "FLK-0001"},
		{"text content type", "POST", "/v1/workflows", `{"name":"x"}`, []string{"Content-Type", "text/plain"}, 400, "FLK-0001"},
		{"empty body", "POST", "/v1/workflows", " ", nil, 400, "FLK-0001"},
		{"malformed json", "POST", "/v1/workflows", `{"name":`, nil, 400, "FLK-0001"},
		{"trailing garbage", "POST", "/v1/workflows", `{"name":"x"} {}`, nil, 400, "FLK-0001"},
		{"array body", "POST", "/v1/workflows", `[1,2]`, nil, 400, "FLK-0001"},
		{"name wrong type", "POST", "/v1/workflows", `{"name":123}`, nil, 400, "FLK-0001"},
		{"nodes wrong type", "POST", "/v1/workflows", `{"name":"x","nodes":{}}`, nil, 400, "FLK-0001"},
		{"body over limit", "POST", "/v1/workflows", `{"name":"` + strings.Repeat("x", 5000) + `"}`, nil, 413, "FLK-0005"},
		{"name missing", "POST", "/v1/workflows", `{"description":"x"}`, nil, 400, "FLK-0110"},
		{"name too long", "POST", "/v1/workflows", map[string]any{"name": strings.Repeat("n", 101)}, nil, 400, "FLK-0111"},
		{"duplicate name", "POST", "/v1/workflows", linear("existing"), nil, 409, "FLK-0101"},
		{"dangling edge", "POST", "/v1/workflows", withGraph(func(b map[string]any) {
			b["edges"] = []map[string]any{{"id": "e1", "source": "hook", "target": "ghost"}}
		}), nil, 400, "FLK-0115"},
		{"bad node type", "POST", "/v1/workflows", withGraph(func(b map[string]any) {
			b["nodes"].([]map[string]any)[1]["type"] = "teleport"
		}), nil, 400, "FLK-0121"},
		{"cycle", "POST", "/v1/workflows", withGraph(func(b map[string]any) {
			b["nodes"] = append(b["nodes"].([]map[string]any), map[string]any{"id": "again", "type": "action"})
			b["edges"] = []map[string]any{{"id": "e1", "source": "hook", "target": "approve"},
				{"id": "e2", "source": "approve", "target": "again"}, {"id": "e3", "source": "again", "target": "approve"}}
		}), nil, 400, "FLK-0118"},
		{"get bad uuid", "GET", "/v1/workflows/not-a-uuid", nil, nil, 400, "FLK-0002"},
		{"put bad uuid before body", "PUT", "/v1/workflows/not-a-uuid", `garbage`, nil, 400, "FLK-0002"},
		{"put bad body", "PUT", path, `{"name":`, nil, 400, "FLK-0001"},
		{"put invalid graph", "PUT", path, `{"name":"x","nodes":[{"id":"a b","type":"action"}]}`, nil, 400, "FLK-0120"},
		{"clone no body", "POST", path + "/clone", nil, nil, 400, "FLK-0001"},
		{"clone unknown source", "POST", "/v1/workflows/00000000-0000-4000-8000-000000000000/clone", `{"name":"c"}`, nil, 404, "FLK-0100"},
		{"unknown route", "GET", "/v1/nothing-here", nil, nil, 404, "FLK-0003"},
		{"wrong method", "PATCH", "/v1/workflows", `{}`, nil, 405, "FLK-0004"},
		{"limit zero", "GET", "/v1/workflows?limit=0", nil, nil, 400, "FLK-0304"},
		{"limit over max", "GET", "/v1/workflows?limit=101", nil, nil, 400, "FLK-0304"},
		{"limit not a number", "GET", "/v1/workflows?limit=ten", nil, nil, 400, "FLK-0304"},
		{"unknown sortBy", "GET", "/v1/workflows?sortBy=color", nil, nil, 400, "FLK-0304"},
		{"bad sortOrder", "GET", "/v1/workflows?sortOrder=sideways", nil, nil, 400, "FLK-0310"},
		{"bad status", "GET", "/v1/workflows?status=paused", nil, nil, 400, "FLK-0304"},
		{"garbage cursor", "GET", "/v1/workflows?cursor=%25%25", nil, nil, 400, "INVALID_CURSOR"},
		{"cursor bad sort value", "GET", "/v1/workflows?cursor=" + cursor(flow.Cursor{ID: id, SortValue: "yesterday", SortBy: "createdAt", Order: "DESC"}), nil, nil, 400, "INVALID_CURSOR"},
		{"cursor bad id", "GET", "/v1/workflows?cursor=" + cursor(flow.Cursor{ID: "x", SortValue: "a", SortBy: "name", Order: "DESC"}), nil, nil, 400, "INVALID_CURSOR"},
		{"cursor unknown sort", "GET", "/v1/workflows?cursor=" + cursor(flow.Cursor{ID: id, SortValue: "a", SortBy: "color", Order: "DESC"}), nil, nil, 400, "INVALID_CURSOR"},
		{"cursor sort mismatch", "GET", "/v1/workflows?sortBy=createdAt&cursor=" + cursor(flow.Cursor{ID: id, SortValue: "a", SortBy: "name", Order: "DESC"}), nil, nil, 400, "INVALID_CURSOR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			h.expect(h.do(tc.method, tc.path, tc.body, tc.headers...), tc.status, tc.code)
		})
	}
	after := h.do("GET", "/v1/workflows", nil).body
	require.JSONEq(t, string(before), string(after), "bad input changed nothing")
}
