package flow

import (
	"errors"
	"time"
)

// ErrInstantRange: a time outside UTC years 0001 to 9999.
var ErrInstantRange = errors.New("must be between years 0001 and 9999 in UTC")

// MaxInstant is the last time a store keeps in order, at its precision
// (microseconds): rounded up, a later one would be year 10000.
var MaxInstant = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)

// ParseInstant reads an RFC 3339 time that a client or a workflow gave, in
// the range every store keeps in order: UTC years 0001 to 9999. SQLite
// compares times as fixed-width text, where "10000-…" sorts before
// "2026-…", and PostgreSQL has no year 0 — so 9999-12-31T23:59:59-03:00,
// a year-10000 instant, is refused rather than read as the distant past.
func ParseInstant(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, err
	}
	if t.UTC().Year() < 1 || t.After(MaxInstant) {
		return t, ErrInstantRange
	}
	return t, nil
}
