package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// An inputMapping target chaining 100,000 [10000] indexes (700 KB, under
// the 1 MiB body limit) was saved (201); when the node ran, writing one
// value would allocate 100,000 arrays of 10,001 slots (~16 GB) (found by a
// defect hunt). It is refused at save.
func TestMappingIndexChainRefusedAtSave(t *testing.T) {
	e := newFlowEnv(t, nil)
	target := "x" + strings.Repeat("[10000]", 100_000)
	r := e.do("POST", "/v1/workflows", workflowBody([]map[string]any{triggerNode("t"),
		e.callNode("a", "/a", map[string]any{"inputMapping": []any{map[string]any{"source": "workflow.a", "target": target}}})},
		[]map[string]any{edge("t", "a")}))
	e.expect(r, http.StatusBadRequest, "FLK-0140")
}
