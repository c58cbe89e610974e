package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store"
)

// TestCatalogView: a view reads its generation once, with its first
// caller's read; a read that failed is tried again by the next caller;
// a context without a view has none.
func TestCatalogView(t *testing.T) {
	require.Nil(t, store.CatalogViewOf(context.Background()))
	v := store.CatalogViewOf(store.WithCatalogView(context.Background()))
	require.NotNil(t, v)
	reads := 0
	failing := func() (uint64, bool) { reads++; return 0, false }
	_, ok := v.Generation(failing)
	require.False(t, ok)
	read := func(gen uint64) func() (uint64, bool) {
		return func() (uint64, bool) { reads++; return gen, true }
	}
	for range 3 {
		gen, ok := v.Generation(read(7))
		require.True(t, ok)
		require.Equal(t, uint64(7), gen)
	}
	gen, _ := v.Generation(read(8))
	require.Equal(t, uint64(7), gen)
	require.Equal(t, 2, reads)
}
