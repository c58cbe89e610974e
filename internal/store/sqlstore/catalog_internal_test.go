package sqlstore

import (
	"context"
	"errors"
	"testing"
	"unsafe"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestCatalogLookupKeepsOnlyWhatCannotHaveChanged: a value is used from
// memory only while no catalog write is in flight and none began since
// it was read; a write begun during the read, a failed read and a
// closed store all send the next lookup to the database.
func TestCatalogLookupKeepsOnlyWhatCannotHaveChanged(t *testing.T) {
	ctx := context.Background()
	var c catalogCache
	c.enabled.Store(true)
	id := uuid.New()
	reads, value := 0, 1
	var during func()
	read := func(context.Context, uuid.UUID) (int, error) {
		reads++
		v := value // read, then whatever happens while the answer travels
		if during != nil {
			during()
		}
		return v, nil
	}
	lookup := func() int {
		t.Helper()
		v, err := catalogLookup(ctx, &c, &c.workflows, id, read)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, 1, lookup())
	require.Equal(t, 1, lookup())
	require.Equal(t, 1, reads, "the second lookup is answered from memory")

	c.begin() // a write in flight: every lookup reads, none is kept
	value = 2
	require.Equal(t, 2, lookup())
	require.Equal(t, 2, lookup())
	require.Equal(t, 3, reads)
	c.end()
	require.Equal(t, 2, lookup())
	require.Equal(t, 2, lookup())
	require.Equal(t, 4, reads, "kept again once the write ended")

	c.begin() // a write of 3; then another begins and commits while a lookup reads
	value = 3
	c.end()
	during = func() { c.begin(); value = 4; c.end() }
	require.Equal(t, 3, lookup())
	during = nil
	require.Equal(t, 4, lookup(), "a value read before a write ended is not kept past it")
	require.Equal(t, 6, reads)

	q := &queries{inTx: true, catalog: &c} // a transaction's write lasts until it settles
	q.changingCatalog()()
	q.changingCatalog()()
	value = 5
	require.Equal(t, 5, lookup())
	require.Equal(t, 7, reads)
	q.settle()
	require.Equal(t, int64(0), c.writing.Load(), "one begin per transaction, ended once")
	require.Equal(t, 5, lookup())
	require.Equal(t, 5, lookup())
	require.Equal(t, 8, reads)

	failing := func(context.Context, uuid.UUID) (int, error) { reads++; return 0, errors.New("gone") }
	other := uuid.New()
	for range 2 {
		_, err := catalogLookup(ctx, &c, &c.workflows, other, failing)
		require.Error(t, err)
	}
	require.Equal(t, 10, reads, "a failed read is not kept")

	c.enabled.Store(false) // closed, or another process may write
	require.Equal(t, 5, lookup())
	require.Equal(t, 11, reads)
}

// TestCatalogLookupKeepsNewerValues: a lookup that read before a newer
// generation's values were kept does not replace them with its own.
func TestCatalogLookupKeepsNewerValues(t *testing.T) {
	ctx := context.Background()
	var c catalogCache
	c.enabled.Store(true)
	a, b := uuid.New(), uuid.New()
	reads := 0
	read := func(v int) func(context.Context, uuid.UUID) (int, error) {
		return func(context.Context, uuid.UUID) (int, error) { reads++; return v, nil }
	}
	slow := func(context.Context, uuid.UUID) (int, error) { // overtaken by a write and a newer lookup
		reads++
		c.begin()
		c.end()
		_, err := catalogLookup(ctx, &c, &c.workflows, a, read(2))
		return 1, err
	}
	_, err := catalogLookup(ctx, &c, &c.workflows, b, slow)
	require.NoError(t, err)
	v, err := catalogLookup(ctx, &c, &c.workflows, a, read(3))
	require.NoError(t, err)
	require.Equal(t, 2, v, "the newer generation's value is kept")
	_, err = catalogLookup(ctx, &c, &c.workflows, b, read(4))
	require.NoError(t, err)
	require.Equal(t, 3, reads, "the older read of b was not kept: b was read again")
}

// TestCatalogLookupWithTheDatabaseCounter: with a counter in the
// database, a value is kept with the counter read before it and used while
// the counter reads the same; a counter that cannot be read keeps nothing
// and uses nothing.
func TestCatalogLookupWithTheDatabaseCounter(t *testing.T) {
	ctx := context.Background()
	var c catalogCache
	c.enabled.Store(true)
	counter, counterErr := int64(0), error(nil) // 0: what a failed read would give
	c.version = &sharedReads[struct{}, int64]{read: func(context.Context, []struct{}) (map[struct{}]int64, error) {
		return map[struct{}]int64{{}: counter}, counterErr
	}}
	id := uuid.New()
	reads, value := 0, 1
	lookup := func() int {
		t.Helper()
		v, err := catalogLookup(ctx, &c, &c.configs, id, func(context.Context, uuid.UUID) (int, error) {
			reads++
			return value, nil
		})
		require.NoError(t, err)
		return v
	}
	require.Equal(t, 1, lookup())
	require.Equal(t, 1, lookup())
	require.Equal(t, 1, reads)

	counterErr, value = errors.New("counter unreadable"), 2
	require.Equal(t, 2, lookup())
	require.Equal(t, 2, lookup())
	require.Equal(t, 3, reads, "nothing used or kept without the counter")

	counterErr, counter = nil, 8
	require.Equal(t, 2, lookup())
	require.Equal(t, 2, lookup())
	require.Equal(t, 4, reads)
}

// TestRouteKeyOwnsItsStrings: a route's key, kept as long as the process
// runs, shares no memory with the caller's strings (a request's buffer is
// reused once its handler returns), even for a method already upper case.
func TestRouteKeyOwnsItsStrings(t *testing.T) {
	method, path := []byte("POST"), []byte("/in")
	k, ok := routeKeyOf(unsafe.String(&method[0], len(method)), unsafe.String(&path[0], len(path)))
	require.True(t, ok)
	copy(method, "GETX")
	copy(path, "/xx")
	require.Equal(t, routeKey{"POST", "/in"}, k)
}
