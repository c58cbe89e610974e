package flow

import (
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// EachPage walks every page in order, each row once, and stops at the
// first error of the list or of each.
func TestEachPage(t *testing.T) {
	t.Parallel()
	rows := []int{1, 2, 3, 4, 5, 6, 7}
	list := func(p PageRequest) (Page[int], error) {
		from := 0
		if p.After != nil {
			from, _ = strconv.Atoi(p.After.ID)
		}
		to := min(from+p.Limit, len(rows))
		page := Page[int]{Items: rows[from:to], HasMore: to < len(rows)}
		if page.HasMore {
			page.NextCursor = Cursor{ID: strconv.Itoa(to)}.Encode()
		}
		return page, nil
	}
	var seen []int
	require.NoError(t, EachPage(PageRequest{Limit: 3}, list, func(v *int) error { seen = append(seen, *v); return nil }))
	require.Equal(t, rows, seen)

	stop := errors.New("stop")
	seen = nil
	require.ErrorIs(t, EachPage(PageRequest{Limit: 3}, list, func(v *int) error {
		seen = append(seen, *v)
		if *v == 4 {
			return stop
		}
		return nil
	}), stop)
	require.Equal(t, []int{1, 2, 3, 4}, seen)
	require.ErrorIs(t, EachPage(PageRequest{Limit: 3}, func(PageRequest) (Page[int], error) { return Page[int]{}, stop },
		func(*int) error { return nil }), stop)
}
