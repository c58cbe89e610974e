package consoletest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestConsoleWorkflowEditing: create from a template, edit the definition
// as JSON (a validation error attached to its node and edge; a lost update
// refused), clone and delete.
func TestConsoleWorkflowEditing(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t, f.base)

	// From a template: the parameters the template needs are pre-filled.
	b.open("/console/workflows", "[data-testid=workflows-table]")
	b.click("[data-testid=new-from-template]")
	b.waitFor("the templates", `document.querySelectorAll("[data-testid=template-select] option").length > 1`)
	b.selectValue("[data-testid=template-select]", "tracer-midaz-validation")
	b.waitFor("template parameters", `(document.querySelector("[data-testid=template-params]") || {}).value.includes("tracerProviderConfigId")`)
	params, err := jsonText(map[string]any{"workflowName": "from-console", "tracerProviderConfigId": f.tracer, "midazProviderConfigId": f.midaz})
	require.NoError(t, err)
	b.setValue("[data-testid=template-params]", params)
	b.click("[data-testid=template-create]")
	b.waitText("[data-testid=workflow-name]", "from-console")
	id := eval[string](b, `location.pathname.split("/").pop()`)
	require.NoError(t, uuid.Validate(id))
	b.open("/console/workflows", "[data-testid=workflows-table]")
	b.waitText("[data-testid=workflows-table]", "from-console")

	// Edit: an invalid condition is shown on its node.
	b.open("/console/workflows/"+id, "[data-testid=edit-json]")
	b.click("[data-testid=edit-json]")
	b.waitFor("the editor", `!!document.querySelector("[data-testid=editor-json]")`)
	edit := func(js string) {
		b.setValue("[data-testid=editor-json]", eval[string](b, `(() => { const d = JSON.parse(document.querySelector("[data-testid=editor-json]").value); `+
			js+`; return JSON.stringify(d, null, 2) })()`))
	}
	edit(`d.nodes.find(n => n.id === "decision-check").data.condition = "tracer-validate.body.decision == == 'x'"`)
	b.click("[data-testid=save-json]")
	b.waitFor("the node marked invalid", `!!document.querySelector(".react-flow__node.fk-invalid [data-node-id=decision-check]")`)
	require.Equal(t, "node:decision-check", eval[string](b, `document.querySelector("[data-testid=graph]").dataset.problem`))
	b.waitText("[data-testid=node-error]", "condition")
	b.waitText("[data-testid=problem]", "decision-check")
	b.shot("11-invalid-node")

	// An edge to nowhere: the edge is marked.
	edit(`d.nodes.find(n => n.id === "decision-check").data.condition = "true"; d.edges[0].target = "nowhere"`)
	edgeID := eval[string](b, `JSON.parse(document.querySelector("[data-testid=editor-json]").value).edges[0].id`)
	b.click("[data-testid=save-json]")
	b.waitFor("the edge marked invalid", `document.querySelector("[data-testid=graph]").dataset.problem === `+jsString("edge:"+edgeID))
	b.waitText("[data-testid=problem]", edgeID)

	// Someone else saves meanwhile: the console's save is refused (412).
	wf := f.do("GET", "/v1/workflows/"+id, nil, http.StatusOK)
	f.do("PUT", "/v1/workflows/"+id, map[string]any{"name": wf["name"], "description": "changed elsewhere",
		"nodes": wf["nodes"], "edges": wf["edges"]}, http.StatusOK)
	edit(`d.edges[0].target = "decision-check"; d.description = "from the console"`)
	b.click("[data-testid=save-json]")
	b.waitText("main", "changed by someone else")
	b.click("[data-testid=reload]")
	b.waitText("main", "changed elsewhere")

	// Edit again from the fresh copy: saved.
	b.click("[data-testid=edit-cancel]")
	b.click("[data-testid=edit-json]")
	edit(`d.description = "from the console"`)
	b.click("[data-testid=save-json]")
	b.waitFor("the editor closed", `!document.querySelector("[data-testid=editor-json]")`)
	b.waitText("main", "from the console")
	require.Equal(t, "from the console", f.do("GET", "/v1/workflows/"+id, nil, http.StatusOK)["description"])

	// Clone, then delete the copy after confirming.
	b.click("[data-testid=clone]")
	b.setValue("[data-testid=clone-name]", "from-console-copy")
	b.click("[data-testid=clone-submit]")
	b.waitText("[data-testid=workflow-name]", "from-console-copy")
	b.waitFor("the copy's graph", `document.querySelectorAll(".react-flow__node").length === 4`)
	b.click("[data-testid=delete]")
	b.waitText("[data-testid=delete-confirmation]", "from-console-copy")
	b.click("[data-testid=delete-confirm]")
	b.waitFor("the workflows list", `!!document.querySelector("[data-testid=workflows-table]")`)
	b.waitText("[data-testid=workflows-table]", "from-console")
	list := f.do("GET", "/v1/workflows?name="+url.QueryEscape("from-console-copy"), nil, http.StatusOK)
	require.Empty(t, list["items"], "the copy is deleted")
	require.Len(t, f.do("GET", "/v1/workflows?name=from-console", nil, http.StatusOK)["items"], 1, "the original is kept")
	b.clean("400", "412")
}

// TestConsoleTraceLink: with CONSOLE_TRACE_URL_TEMPLATE set, an execution
// started within a trace links to it; one without a trace has no link.
func TestConsoleTraceLink(t *testing.T) {
	const tmpl = "http://grafana:3000/explore?traceId={trace_id}&x=<y>"
	s := newServer(t, map[string]string{"CONSOLE_TRACE_URL_TEMPLATE": tmpl})
	wf := s.activeWorkflow("traced", []map[string]any{trigger(),
		{"id": "done", "type": "action", "data": map[string]any{"actionType": "set_output", "output": map[string]any{"ok": true}}}},
		[]map[string]any{edge("start", "done")})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	traced := s.do("POST", "/v1/workflows/"+wf+"/executions", map[string]any{"inputData": map[string]any{}}, http.StatusCreated,
		"Idempotency-Key", uuid.NewString(), "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")["executionId"].(string)
	require.Equal(t, traceID, s.do("GET", "/v1/executions/"+traced, nil, http.StatusOK)["traceId"])
	plain := s.start(wf, nil)
	s.await(traced, "completed")

	b := newBrowser(t, s.base)
	b.open("/console/executions/"+traced, "[data-testid=trace-link]")
	require.Equal(t, "http://grafana:3000/explore?traceId="+traceID+"&x=<y>",
		eval[string](b, `document.querySelector("[data-testid=trace-link]").getAttribute("href")`))
	b.open("/console/executions/"+plain, "[data-testid=execution-status]")
	b.waitText("[data-testid=execution-status]", "completed")
	require.False(t, eval[bool](b, `!!document.querySelector("[data-testid=trace-link]")`))
	b.clean()
}
