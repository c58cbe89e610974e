package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
)

// Starting reads the workflow's revision every time (the definition is
// cached by revision): a deactivation refuses the very next start and a
// reactivation allows the one after, in the same process.
func TestStartFollowsTheWorkflowsRevision(t *testing.T) {
	h := newHarness(t, nil)
	wf := h.expect(h.do("POST", "/v1/workflows", linear("cached")), http.StatusCreated, "")["workflowId"].(string)
	start := func() response {
		return h.do("POST", "/v1/workflows/"+wf+"/executions", map[string]any{"inputData": map[string]any{}},
			"Idempotency-Key", uuid.NewString())
	}
	h.expect(start(), http.StatusUnprocessableEntity, "FLK-0501") // a draft
	h.expect(h.do("POST", "/v1/workflows/"+wf+"/activate", nil), http.StatusOK, "")
	h.expect(start(), http.StatusCreated, "")
	h.expect(h.do("POST", "/v1/workflows/"+wf+"/deactivate", nil), http.StatusOK, "")
	h.expect(start(), http.StatusUnprocessableEntity, "FLK-0501")
	h.expect(h.do("POST", "/v1/workflows/"+wf+"/draft", nil), http.StatusOK, "")
	h.expect(h.do("POST", "/v1/workflows/"+wf+"/activate", nil), http.StatusOK, "")
	h.expect(start(), http.StatusCreated, "")
}
