// Package flow is Flowker's domain: workflows and their graphs, validation
// rules, list paging and the error kinds every layer speaks. It imports no
// other internal package; everything else imports it.
package flow

import (
	"errors"
	"fmt"
)

// Kind classifies an error for callers; the HTTP layer turns a Kind into a
// status code in exactly one place.
type Kind int

// Error kinds, one per client-visible outcome.
const (
	KindInternal      Kind = iota // a real failure of ours (500)
	KindInvalid                   // malformed or out-of-limit input (400)
	KindUnauthorized              // no or bad credentials (401)
	KindForbidden                 // authenticated, not allowed (403)
	KindNotFound                  // the resource does not exist (404)
	KindConflict                  // unique name taken, concurrent change (409)
	KindTooLarge                  // body over the limit (413)
	KindUnprocessable             // well-formed but not allowed in this state (422)
	KindRateLimited               // too many requests from this client (429)
	KindUnavailable               // cannot take the work now (503)
	KindPrecondition              // an If-Match precondition does not hold (412)
)

// Error is a domain error with a stable FLK code and a message a person can
// act on. Title optionally overrides the HTTP reason phrase (the reference
// uses custom titles on a few list errors).
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Title   string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is match on the code, so a formatted error with the same
// code matches its sentinel.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Errorf builds an Error with a formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalidf is the common case: a 400 with a specific code.
func Invalidf(code, format string, args ...any) *Error {
	return Errorf(KindInvalid, code, format, args...)
}

// Codes shared by every resource.
const (
	CodeInvalidBody      = "FLK-0001"
	CodeInvalidID        = "FLK-0002"
	CodeRouteNotFound    = "FLK-0003"
	CodeMethodNotAllowed = "FLK-0004"
	CodeBodyTooLarge     = "FLK-0005"
	CodeHeadersTooLarge  = "FLK-0006" // 431: request header fields too large
	CodeRequestTimeout   = "FLK-0007" // 408: the request was not received in time
	CodePrecondition     = "FLK-0013" // 412: If-Match does not name the current revision
	CodeOutcomeUnknown   = "FLK-0014" // 503: a start may have committed and could not be read back: no Retry-After
	CodeInvalidQuery     = "FLK-0304" // every paging and filter parameter, limit included
	CodeSortOrder        = "FLK-0310"
	CodeMetadataKey      = "FLK-0312"
	CodeMetadataValue    = "FLK-0313"
	CodeMetadataNesting  = "FLK-0314"
	CodeMetadataEntries  = "FLK-0315"
	CodeStateChanged     = "FLK-0350"
	CodeConfigInUse      = "FLK-0351" // 409: a configuration active workflows use cannot be deleted
	CodeNotRetryable     = "FLK-0512" // 422: this execution cannot be retried
	CodeInvalidCursor    = "INVALID_CURSOR"
	CodeInternal         = "FLK-9999"
)

// Sentinels used across layers.
var (
	ErrStateChanged = &Error{Kind: KindConflict, Code: CodeStateChanged,
		Message: "resource state changed concurrently; retry with latest version"}
	ErrInvalidCursor = &Error{Kind: KindInvalid, Code: CodeInvalidCursor, Message: "invalid cursor format"}
)

// KindOf reports the Kind of err; errors that are not *Error are internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
