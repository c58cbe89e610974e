package httpapi_test

import (
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
)

// The eventType filter is a closed vocabulary, as action, result and
// resourceType are: a misspelt type was answered 200 with an empty page,
// which a client cannot tell from "no such events" (found by a defect
// hunt). Every type Flowker records is accepted.
func TestAuditEventTypeFilterIsClosed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.expect(h.do("POST", "/v1/workflows", linear("audited")), http.StatusCreated, "")
	listed := h.expect(h.do("GET", "/v1/audit-events?eventType=WORKFLOW_CREATED", nil), http.StatusOK, "")
	require.Len(t, listed["items"], 1)

	for _, typo := range []string{"WORKFLOW_CREATE", "WORKFLOW_CREATED_", "workflow_created", "EXECUTOR_CONFIG_"} {
		h.expect(h.do("GET", "/v1/audit-events?eventType="+url.QueryEscape(typo), nil), http.StatusBadRequest, "FLK-0304")
	}
	for _, typ := range audit.EventTypes() {
		h.expect(h.do("GET", "/v1/audit-events?limit=1&eventType="+typ, nil), http.StatusOK, "")
	}
}

// Three places name the event types: the code (audit.EventTypes), the
// OpenAPI AuditEventType enum (the filter's and the event's schema) and
// docs/decisions.md. They must say the same.
func TestAuditEventTypesAgree(t *testing.T) {
	t.Parallel()
	c, err := loadContract()
	require.NoError(t, err)
	schema := c.doc.Components.Schemas["AuditEventType"]
	require.NotNil(t, schema, "components.schemas.AuditEventType")
	var enum []string
	for _, v := range schema.Value.Enum {
		enum = append(enum, v.(string))
	}
	require.ElementsMatch(t, audit.EventTypes(), enum, "the OpenAPI AuditEventType enum")

	list := c.doc.Paths.Find("/v1/audit-events").Get
	require.Equal(t, "#/components/schemas/AuditEventType", list.Parameters.GetByInAndName("query", "eventType").Schema.Ref)
	require.Equal(t, "#/components/schemas/AuditEventType",
		c.doc.Components.Schemas["AuditEvent"].Value.Properties["eventType"].Ref)

	require.ElementsMatch(t, audit.EventTypes(), documentedEventTypes(t), "docs/decisions.md's audit event types")
}

// documentedEventTypes reads the "Audit event types:" paragraph of
// docs/decisions.md, where `WAIT_OPENED/RESOLVED` stands for WAIT_OPENED
// and WAIT_RESOLVED (the first type's last word replaced).
func documentedEventTypes(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../docs/decisions.md")
	require.NoError(t, err)
	_, para, found := strings.Cut(string(raw), "\nAudit event types: ")
	require.True(t, found, `docs/decisions.md has no "Audit event types:" paragraph`)
	para, _, _ = strings.Cut(para, "\n\n")
	var types []string
	for _, m := range regexp.MustCompile("`([A-Z_/]+)`").FindAllStringSubmatch(para, -1) {
		group := strings.Split(m[1], "/")
		prefix := group[0][:strings.LastIndex(group[0], "_")+1]
		types = append(types, group[0])
		for _, verb := range group[1:] {
			types = append(types, prefix+verb)
		}
	}
	return types
}

// The console's audit filters offer exactly the API's vocabularies: each
// is closed (400 outside it), and the console's lists had fallen behind
// (no review, wait or archive types; a free-text event type that the
// closed filter would refuse while it was typed).
func TestConsoleAuditFiltersMatchTheAPI(t *testing.T) {
	t.Parallel()
	c, err := loadContract()
	require.NoError(t, err)
	raw, err := os.ReadFile("../../console/src/pages/Audit.tsx")
	require.NoError(t, err)
	for list, schema := range map[string]string{"EVENT_TYPES": "AuditEventType", "ACTIONS": "AuditAction",
		"TYPES": "AuditResourceType"} {
		m := regexp.MustCompile(`(?s)\bconst ` + list + ` = \[(.*?)\];`).FindSubmatch(raw)
		require.NotNil(t, m, "console/src/pages/Audit.tsx defines %s", list)
		var console []string
		for _, q := range regexp.MustCompile(`"([^"]+)"`).FindAllSubmatch(m[1], -1) {
			console = append(console, string(q[1]))
		}
		var enum []string
		for _, v := range c.doc.Components.Schemas[schema].Value.Enum {
			enum = append(enum, v.(string))
		}
		require.ElementsMatch(t, enum, console, "the console's %s against the OpenAPI %s", list, schema)
	}
}
