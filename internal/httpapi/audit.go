package httpapi

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"flowker/internal/audit"
	"flowker/internal/flow"
)

func (a *api) auditRoutes(r fiber.Router) {
	r.Get("/audit-events", a.listAudit)
	// Before the :id routes, which match in registration order and would
	// take "archive" for an event id (a 400 FLK-0002); no event id is
	// "archive" (they are UUIDs), so the paths never name the same thing.
	r.Get("/audit-events/archive/verify", a.verifyArchive)
	r.Get("/audit-events/:id", a.getAudit)
	r.Get("/audit-events/:id/verify", a.verifyAudit)
}

type auditResponse struct {
	EventID      uuid.UUID      `json:"eventId"`
	Sequence     int64          `json:"sequence"`
	EventType    string         `json:"eventType"`
	Action       string         `json:"action"`
	Result       string         `json:"result"`
	ResourceID   string         `json:"resourceId"`
	ResourceType string         `json:"resourceType"`
	Actor        audit.Actor    `json:"actor"`
	RequestID    string         `json:"requestId,omitempty"`
	TraceID      string         `json:"traceId,omitempty"`
	Metadata     map[string]any `json:"metadata,omitempty"`
	Timestamp    time.Time      `json:"timestamp"`
	Hash         string         `json:"hash"`
	PreviousHash string         `json:"previousHash,omitempty"`
}

func toAuditResponse(e *audit.Event) auditResponse {
	return auditResponse{EventID: e.ID, Sequence: e.Seq, EventType: e.EventType, Action: e.Action, Result: e.Result,
		ResourceID: e.ResourceID, ResourceType: e.ResourceType, Actor: e.Actor, RequestID: e.RequestID,
		TraceID: e.TraceID, Metadata: e.Metadata, Timestamp: e.Timestamp, Hash: e.Hash, PreviousHash: e.PreviousHash}
}

// Closed vocabularies of the audit filters: a value outside them is a 400
// (eventType's is audit.EventTypes).
var auditEnums = map[string][]string{
	"action": {"CREATE", "UPDATE", "DELETE", "ACTIVATE", "DEACTIVATE", "DRAFT", "EXECUTE", "ENABLE", "DISABLE",
		"TEST", "CONFIGURE", "CANCEL", "RETRY", "DECIDE", "SIGNAL", "EXPIRE", "ARCHIVE"},
	"result": {"SUCCESS", "FAILED"},
	"resourceType": {"workflow", "execution", "provider_config", "executor_config", "review", "wait", "execution_archive",
		"audit_chain"},
}

// auditPageSize is the audit list's default page size (the reference's).
const auditPageSize = 20

func (a *api) listAudit(c *fiber.Ctx) error {
	f := audit.Filter{EventType: c.Query("eventType"), Action: c.Query("action"),
		Result: c.Query("result"), ResourceType: c.Query("resourceType")}
	for param, allowed := range auditEnums {
		if v := c.Query(param); v != "" && !slices.Contains(allowed, v) {
			return flow.Invalidf(flow.CodeInvalidQuery, "invalid %s: must be one of %s", param, strings.Join(allowed, ", "))
		}
	}
	// Closed too: a misspelt type would otherwise be an empty page, which
	// reads as "no such events". The list is long: the message names none.
	if v := c.Query("eventType"); v != "" && !audit.IsEventType(v) {
		return flow.Invalidf(flow.CodeInvalidQuery,
			"invalid eventType: not an event type Flowker records (the AuditEventType enum of /openapi.json lists them)")
	}
	// Paging reads as on every other list (parseLimit, parseSortOrder); the
	// cursor is the audit's own: the last event's sequence number.
	var err error
	if f.Limit, err = parseLimit(c, auditPageSize); err != nil {
		return err
	}
	order, err := parseSortOrder(c)
	if err != nil {
		return err
	}
	f.Ascending = order == "ASC"
	id, err := parseQueryID(c, "resourceId")
	if err != nil {
		return err
	}
	if id != nil {
		f.ResourceID = id.String()
	}
	if f.From, f.To, err = parseTimeRange(c, "dateFrom", "dateTo"); err != nil {
		return err
	}
	if v := c.Query("cursor"); v != "" {
		seq, err := strconv.ParseInt(v, 10, 64)
		if err != nil || seq < 1 {
			return flow.Invalidf(flow.CodeInvalidCursor, "invalid cursor: expected the sequence number of an audit event")
		}
		f.AfterSeq = seq
	}
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	events, err := a.svc.ListAuditEvents(c.UserContext(), f)
	if err != nil {
		return err
	}
	page := flow.Page[audit.Event]{Items: events}
	if len(events) > limit {
		page.Items, page.HasMore = events[:limit], true
		page.NextCursor = strconv.FormatInt(events[limit-1].Seq, 10)
	}
	return c.JSON(toList(page, toAuditResponse))
}

func (a *api) getAudit(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "audit event")
	if err != nil {
		return err
	}
	e, err := a.svc.GetAuditEvent(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toAuditResponse(e))
}

// verifyAudit recomputes the chain up to the event (from the start, or
// from ?from=<eventId>) and names the first event that breaks it.
func (a *api) verifyAudit(c *fiber.Ctx) error {
	id, err := parseID(c, "id", "audit event")
	if err != nil {
		return err
	}
	var from *uuid.UUID
	if v := c.Query("from"); v != "" {
		f, err := uuid.Parse(v)
		if err != nil {
			return flow.Invalidf(flow.CodeInvalidID, "invalid from: expected an audit event ID")
		}
		from = &f
	}
	res, err := a.svc.VerifyAudit(c.UserContext(), id, from)
	if err != nil {
		return err
	}
	body := fiber.Map{"isValid": res.Valid, "totalChecked": res.Checked, "message": "hash chain is valid"}
	if !res.Valid {
		body["firstInvalidId"] = res.FirstInvalid.ID
		body["firstInvalidSequence"] = res.FirstInvalid.Seq
		body["message"] = "hash chain broken at event " + res.FirstInvalid.ID.String() + ": " + res.Reason
	}
	return c.JSON(body)
}

// archiveVerification is the answer of GET /v1/audit-events/archive/verify,
// named as the chain verification's (isValid, totalChecked, message).
type archiveVerification struct {
	IsValid         bool     `json:"isValid"`
	TotalChecked    int      `json:"totalChecked"`
	Message         string   `json:"message"`
	MissingFiles    []string `json:"missingFiles"`
	AlteredFiles    []string `json:"alteredFiles"`
	UnrecordedFiles []string `json:"unrecordedFiles"`
}

// verifyArchive checks the executions archive (RETENTION_ARCHIVE_DIR)
// against the audit chain (docs/history.md): every file an
// EXECUTIONS_ARCHIVED event records is there with the recorded SHA-256;
// files listed in a manifest that no event records are named, and do not
// make the archive invalid. Retention off: 422 FLK-0613. Like the chain's
// verification, a read: it records no audit event.
func (a *api) verifyArchive(c *fiber.Ctx) error {
	res, err := a.svc.VerifyArchive(c.UserContext(), a.cfg.History.ArchiveDir)
	if err != nil {
		return err
	}
	body := archiveVerification{IsValid: res.Valid(), TotalChecked: res.Checked,
		MissingFiles: nonNil(res.Missing), AlteredFiles: nonNil(res.Altered), UnrecordedFiles: nonNil(res.Unrecorded)}
	if body.IsValid {
		body.Message = "archive is intact: " + strconv.Itoa(res.Checked) + " recorded files present and unaltered"
	} else {
		body.Message = "archive is not intact: of " + strconv.Itoa(res.Checked) + " recorded files, " +
			strconv.Itoa(len(res.Missing)) + " missing and " + strconv.Itoa(len(res.Altered)) + " altered"
	}
	if n := len(res.Unrecorded); n > 0 {
		body.Message += "; " + strconv.Itoa(n) + " listed in a manifest but recorded by no event " +
			"(left by a batch that did not commit: not evidence of anything)"
	}
	return c.JSON(body)
}

// nonNil answers an empty list as [], not null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
