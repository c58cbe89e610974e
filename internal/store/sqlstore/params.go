package sqlstore

import (
	"strconv"
	"strings"
	"sync"
)

// anonymousParams rewrites $1, $2, … $N to ? when they appear exactly in
// that order, once each, and the statement has no string literal: the
// same statement for a driver that binds ? faster. SQLite keeps every
// $N name in a list it searches for each parameter it binds (modernc asks
// each one's name), so a multi-row insert of n parameters cost n²/2 steps
// of that search: 3% of Flowker's CPU, all of it in the writer. Other
// statements are returned unchanged. Rewrites are remembered by text (the
// hot statements are a few dozen).
type anonymousParams struct{ seen sync.Map } // string → string

func (a *anonymousParams) rewrite(query string) string {
	if a == nil {
		return query
	}
	if q, ok := a.seen.Load(query); ok {
		return q.(string)
	}
	q := toAnonymous(query)
	a.seen.Store(query, q)
	return q
}

func toAnonymous(query string) string {
	if strings.ContainsRune(query, '\'') {
		return query
	}
	var b strings.Builder
	b.Grow(len(query))
	next := 1
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(query[i+1 : j]); err != nil || n != next {
			return query // not in order: keep the numbers
		}
		next++
		b.WriteByte('?')
		i = j - 1
	}
	return b.String()
}
