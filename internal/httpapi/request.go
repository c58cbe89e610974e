package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"flowker/internal/flow"
)

// parseBody decodes a JSON object body into dst. Only JSON media types are
// accepted; a literal null is an empty object; unknown fields are ignored
// (the reference's contract), wrong types are named.
func parseBody(c *fiber.Ctx, dst any) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || !strings.HasSuffix(mt, "json") {
		return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: Content-Type must be application/json")
	}
	body := c.Body()
	if len(strings.TrimSpace(string(body))) == 0 {
		return flow.Invalidf(flow.CodeInvalidBody, "invalid request body: body is empty")
	}
	err = json.Unmarshal(body, dst)
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		return nil
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
// every list. A cursor carries its sort; sortBy/sortOrder sent with it must
// agree (clients of the reference resend them with each page).
func parsePage(c *fiber.Ctx, sorts []string) (flow.PageRequest, error) {
	p := flow.PageRequest{Limit: flow.DefaultPageSize, SortBy: sorts[0], Desc: true}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > flow.MaxPageSize {
			return p, flow.Invalidf(flow.CodeInvalidQuery,
				"invalid limit parameter: must be an integer between 1 and %d", flow.MaxPageSize)
		}
		p.Limit = n
	}
	sortBy, order := c.Query("sortBy"), strings.ToUpper(c.Query("sortOrder"))
	if sortBy != "" {
		if !slices.Contains(sorts, sortBy) {
			return p, flow.Invalidf(flow.CodeInvalidQuery,
				"invalid sortBy parameter: must be one of %s", strings.Join(sorts, ", "))
		}
		p.SortBy = sortBy
	}
	switch order {
	case "", "DESC":
	case "ASC":
		p.Desc = false
	default:
		return p, flow.Invalidf(flow.CodeSortOrder, "sortOrder must be ASC or DESC")
	}
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

func humanBytes(n int) string {
	if n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + " MiB"
	}
	if n%(1<<10) == 0 {
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}
