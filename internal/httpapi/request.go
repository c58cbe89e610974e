package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/jsonenc"
	"flowker/internal/service"
)

// The Idempotency-Key header and the code of its refusals (the reference's
// "header is required").
const (
	headerIdempotencyKey = "Idempotency-Key"
	codeIdempotencyKey   = "FLK-0509"
)

// parseBody decodes a JSON object body into dst. Only JSON media types are
// accepted; a literal null is an empty object; unknown fields are ignored
// (the reference's contract), wrong types are named. A NUL character or
// invalid UTF-8 in any key or string is refused, naming the field.
func parseBody(c *fiber.Ctx, dst any) error { return parseBodyOnly(c, dst) }

// parseBodyOnly is parseBody for a route that refuses unknown top-level
// fields (matched case-insensitively, as decoding does): a misspelt field
// there would silently do the wrong thing. No fields: any field.
func parseBodyOnly(c *fiber.Ctx, dst any, fields ...string) error {
	body, err := requestBody(c)
	if err != nil {
		return err
	}
	return decodeBody(c, body, dst, fields)
}

// decodeBody is parseBody of body, the request's body as requestBody
// gave it to the caller (within the route's limit, inflated when sent
// compressed).
func decodeBody(c *fiber.Ctx, body []byte, dst any, only []string) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || !strings.HasSuffix(mt, "json") {
		return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: Content-Type must be application/json")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: body is empty")
	}
	if err := checkJSONText(body); err != nil {
		return err
	}
	err = json.Unmarshal(body, dst)
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		return checkFields(body, only)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: expected a JSON object")
	case errors.As(err, &typeErr):
		return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: field %q must be %s",
			typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr):
		return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: malformed JSON at byte %d", syntaxErr.Offset)
	default:
		return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: %v", err)
	}
}

// checkFields refuses top-level fields outside only (nil: any field).
func checkFields(body []byte, only []string) error {
	if only == nil {
		return nil
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return nil // null: no fields
	}
	var unknown []string
	for k := range top {
		if !slices.ContainsFunc(only, func(f string) bool { return strings.EqualFold(f, k) }) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: unknown field %q: this route accepts only %s",
		unknown[0], strings.Join(only, ", "))
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	default:
		return "a number"
	}
}

// parseID reads a UUID path parameter; what names the resource in the message.
func parseID(c *fiber.Ctx, param, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params(param))
	if err != nil {
		return uuid.Nil, flow.Invalidf(flow.CodeInvalidID, "invalid %s ID", what)
	}
	return id, nil
}

// parsePage reads limit, sortBy, sortOrder and cursor, the same way for
// every keyset list. A cursor carries its sort; sortBy/sortOrder sent with
// it must agree (clients of the reference resend them with each page).
func parsePage(c *fiber.Ctx, sorts []string) (flow.PageRequest, error) {
	p := flow.PageRequest{SortBy: sorts[0], Desc: true}
	var err error
	if p.Limit, err = parseLimit(c, flow.DefaultPageSize); err != nil {
		return p, err
	}
	sortBy := c.Query("sortBy")
	if sortBy != "" {
		if !slices.Contains(sorts, sortBy) {
			return p, flow.Invalidf(flow.CodeInvalidQuery,
				"invalid sortBy parameter: must be one of %s", strings.Join(sorts, ", "))
		}
		p.SortBy = sortBy
	}
	order, err := parseSortOrder(c)
	if err != nil {
		return p, err
	}
	p.Desc = order != "ASC"
	raw := c.Query("cursor")
	if raw == "" {
		return p, nil
	}
	cur, err := flow.DecodeCursor(raw)
	if err != nil {
		return p, err
	}
	if !slices.Contains(sorts, cur.SortBy) || (cur.Order != "ASC" && cur.Order != "DESC") {
		return p, flow.ErrInvalidCursor
	}
	if (sortBy != "" && sortBy != cur.SortBy) || (order != "" && order != cur.Order) {
		return p, &flow.Error{Kind: flow.KindInvalid, Code: flow.CodeInvalidCursor,
			Message: fmt.Sprintf("cursor was issued for sortBy=%s sortOrder=%s; send the same or omit them",
				cur.SortBy, cur.Order)}
	}
	p.SortBy, p.Desc, p.After = cur.SortBy, cur.Order == "DESC", cur
	return p, nil
}

// parseLimit reads ?limit, def when absent: an integer from 1 to
// flow.MaxPageSize, on every list (audit events included), else 400 FLK-0304.
func parseLimit(c *fiber.Ctx, def int) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > flow.MaxPageSize {
		return 0, flow.Invalidf(flow.CodeInvalidQuery,
			"invalid limit parameter: must be an integer between 1 and %d", flow.MaxPageSize)
	}
	return n, nil
}

// parseSortOrder reads ?sortOrder: ASC or DESC in any case ("" when
// absent: each list's default), anything else 400 FLK-0310, on every list.
func parseSortOrder(c *fiber.Ctx) (string, error) {
	order := strings.ToUpper(c.Query("sortOrder"))
	if order != "" && order != "ASC" && order != "DESC" {
		return "", flow.Invalidf(flow.CodeSortOrder, "sortOrder must be ASC or DESC")
	}
	return order, nil
}

// parseTimeRange reads two optional RFC 3339 query parameters bounding an
// inclusive time range, the same way on every list that has one (audit
// dateFrom/dateTo, executions startedFrom/startedTo): 400 FLK-0305 for a
// bad format or a time outside UTC years 0001–9999 (flow.ParseInstant),
// FLK-0308 when from is after to.
func parseTimeRange(c *fiber.Ctx, fromName, toName string) (from, to *time.Time, err error) {
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{fromName, &from}, {toName, &to}} {
		if v := c.Query(p.name); v != "" {
			t, err := flow.ParseInstant(v)
			if err != nil {
				return nil, nil, flow.Invalidf("FLK-0305",
					"invalid %s format, expected RFC3339 between years 0001 and 9999 (UTC)", p.name)
			}
			*p.dst = &t
		}
	}
	if from != nil && to != nil && from.After(*to) {
		return nil, nil, flow.Invalidf("FLK-0308", "%s must be before %s", fromName, toName)
	}
	return from, to, nil
}

// parseQueryID reads an optional UUID query parameter (nil when absent):
// 400 FLK-0002 naming it when it is not a UUID.
func parseQueryID(c *fiber.Ctx, name string) (*uuid.UUID, error) {
	v := c.Query(name)
	if v == "" {
		return nil, nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return nil, flow.Invalidf(flow.CodeInvalidID, "invalid %s format, expected UUID", name)
	}
	return &id, nil
}

// setETag gives a response the entity's strong ETag: its revision, quoted.
func setETag(c *fiber.Ctx, revision int) {
	c.Set(fiber.HeaderETag, `"`+strconv.Itoa(revision)+`"`)
}

// conditional is the request's context, carrying If-Match, when sent, as
// the precondition of the write (RFC 9110 §13.1.1): "*" or a list of
// strong ETags. A weak or malformed tag matches no revision.
func conditional(c *fiber.Ctx) context.Context {
	ctx := c.UserContext()
	raw := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if raw == "" {
		return ctx
	}
	p := service.Precondition{IfMatch: raw}
	for _, tag := range strings.Split(raw, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" {
			p.Any = true
			continue
		}
		if len(tag) > 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
			// Strong comparison is of the text: "01" and "+1" are not "1".
			inner := tag[1 : len(tag)-1]
			if n, err := strconv.Atoi(inner); err == nil && n > 0 && strconv.Itoa(n) == inner {
				p.Revisions = append(p.Revisions, n)
			}
		}
	}
	return service.WithPrecondition(ctx, p)
}

func humanBytes(n int) string {
	if n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + " MiB"
	}
	if n%(1<<10) == 0 {
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// textProblem says what makes s unacceptable as request text, or "": a NUL
// character or invalid UTF-8. PostgreSQL refuses to store either and SQLite
// would keep bytes no JSON reader gets back, so every request value is
// checked here, at the boundary, where the message can name the field:
// both stores then answer alike, and nothing is half-written.
func textProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL character (U+0000)"
	}
	return ""
}

// jsonFrame is an open object or array while checkJSONText walks a body.
type jsonFrame struct {
	obj     bool
	wantKey bool   // object: the next string is a key
	key     string // object: the key of the current value
	index   int    // array: the index of the current value
}

// checkJSONText refuses a NUL character or invalid UTF-8 in any key or
// string of a JSON body, and a number a float64 cannot hold as written,
// naming the field. Decoding would turn invalid UTF-8 into U+FFFD and
// 9007199254740993 into 9007199254740992 silently (an amount changed, and
// two requests taken for one), so each string's raw bytes and each long
// or scaled number are checked. Most bodies have none of these and are not
// walked at all.
func checkJSONText(body []byte) error {
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u0000`)) && !jsonenc.MayChangeANumber(body) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []jsonFrame
	var prev int64
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or malformed JSON: decoding reports that
		}
		raw := body[prev:dec.InputOffset()] // the token, after ASCII delimiters
		prev = dec.InputOffset()
		top := len(stack) - 1
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				stack = append(stack, jsonFrame{obj: t == '{', wantKey: t == '{'})
				continue // its parent moves on when it closes
			}
			stack = stack[:top]
		case json.Number:
			if !jsonenc.ExactNumber(t) {
				return flow.Invalidf(flow.CodeInvalidBody,
					"invalid request body: field %q is %s, more digits than a number keeps (15 are always kept): send it as a string",
					jsonPath(stack), t)
			}
		case string:
			problem := textProblem(t)
			if !utf8.Valid(raw) {
				problem = "is not valid UTF-8"
			}
			isKey := top >= 0 && stack[top].obj && stack[top].wantKey
			switch {
			case problem != "" && isKey:
				return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: a key of %s %s",
					jsonWhere(stack[:top]), problem)
			case problem != "":
				return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: field %q %s", jsonPath(stack), problem)
			case isKey:
				stack[top].key, stack[top].wantKey = t, false
				continue
			}
		}
		if n := len(stack); n > 0 { // a value ended: its container moves on
			if stack[n-1].obj {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
}

// jsonPath names the current value: nodes[0].data.path.
func jsonPath(stack []jsonFrame) string {
	var b strings.Builder
	for _, f := range stack {
		switch {
		case !f.obj:
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		case b.Len() > 0:
			b.WriteString("." + f.key)
		default:
			b.WriteString(f.key)
		}
	}
	return b.String()
}

// jsonWhere names the object whose frames lead to it, for a message.
func jsonWhere(stack []jsonFrame) string {
	if p := jsonPath(stack); p != "" {
		return fmt.Sprintf("field %q", p)
	}
	return "the body"
}

// checkRequestText refuses a NUL character or invalid UTF-8 in the path,
// a query parameter or the Idempotency-Key header, naming which; it runs
// before every /v1 handler (after authentication). Webhooks check the
// headers they keep themselves (webhookHeaders).
func checkRequestText(c *fiber.Ctx) error {
	if p := textProblem(c.Path()); p != "" {
		return flow.Invalidf(flow.CodeInvalidBody, "invalid request path: it %s", p)
	}
	var err error
	code := flow.CodeInvalidQuery
	if strings.HasPrefix(c.Path(), "/v1/dashboards/") { // the reference answers every dashboard parameter so
		code = codeDashboardParam
	}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		if err != nil {
			return
		}
		if p := textProblem(string(k)); p != "" {
			err = flow.Invalidf(code, "invalid query parameter name: it %s", p)
		} else if p := textProblem(string(v)); p != "" {
			err = flow.Invalidf(code, "invalid query parameter %q: its value %s", k, p)
		}
	})
	if err != nil {
		return err
	}
	if p := textProblem(c.Get(headerIdempotencyKey)); p != "" {
		return flow.Invalidf(codeIdempotencyKey, "invalid Idempotency-Key header: it %s", p)
	}
	return nil
}

// idempotencyKey is the request's Idempotency-Key, trimmed ("" when none):
// at most 255 characters on every route that takes one, so that no store's
// unique index refuses it (PostgreSQL's b-tree holds about 2,700 bytes).
func idempotencyKey(c *fiber.Ctx) (string, error) {
	key := strings.TrimSpace(c.Get(headerIdempotencyKey))
	if len(key) > 255 {
		return "", flow.Invalidf(codeIdempotencyKey, "Idempotency-Key cannot exceed 255 characters")
	}
	return key, nil
}

// strictInput is the middleware form of checkRequestText.
func (a *api) strictInput(c *fiber.Ctx) error {
	if err := checkRequestText(c); err != nil {
		return err
	}
	return c.Next()
}
