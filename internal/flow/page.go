package flow

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Paging limits shared by every list.
const (
	DefaultPageSize = 10
	MaxPageSize     = 100
)

// PageRequest is a keyset page: at most Limit rows ordered by (SortBy, id),
// starting after After when it is set.
type PageRequest struct {
	Limit  int
	SortBy string
	Desc   bool
	After  *Cursor
}

// Cursor marks the last row of a page. On the wire it is base64 of
// {"id","sv","sb","so","pn"}, the reference's format, so its cursors and
// ours look alike; we also honour the sort it carries.
type Cursor struct {
	ID        string `json:"id"`
	SortValue string `json:"sv"`
	SortBy    string `json:"sb"`
	Order     string `json:"so"`
	Next      bool   `json:"pn"`
}

// Encode renders the cursor for a response.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c) // a struct of strings cannot fail to marshal
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeCursor parses a client's cursor; any malformation is ErrInvalidCursor.
func DecodeCursor(s string) (*Cursor, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return nil, ErrInvalidCursor
		}
	}
	var c Cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.ID == "" {
		return nil, ErrInvalidCursor
	}
	return &c, nil
}

// Page is one page of a list.
type Page[T any] struct {
	Items      []T
	NextCursor string
	HasMore    bool
}

// EachPage walks a keyset list from first to its last page, calling each
// for every row in order; list's error, or each's, ends the walk.
func EachPage[T any](first PageRequest, list func(PageRequest) (Page[T], error), each func(*T) error) error {
	page := first
	for {
		p, err := list(page)
		if err != nil {
			return err
		}
		for i := range p.Items {
			if err := each(&p.Items[i]); err != nil {
				return err
			}
		}
		if !p.HasMore {
			return nil
		}
		if page.After, err = DecodeCursor(p.NextCursor); err != nil {
			return err
		}
	}
}

// WorkflowSorts are the columns a workflow list may be ordered by.
var WorkflowSorts = []string{"createdAt", "updatedAt", "name"}

// WorkflowFilter selects workflows for a list.
type WorkflowFilter struct {
	Status WorkflowStatus
	Name   string // exact match: "get by name"
	Page   PageRequest
}
