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
	_, ok := v.Generation(failing, nil)
	require.False(t, ok)
	read := func(gen uint64) func() (uint64, bool) {
		return func() (uint64, bool) { reads++; return gen, true }
	}
	for range 3 {
		gen, ok := v.Generation(read(7), nil)
		require.True(t, ok)
		require.Equal(t, uint64(7), gen)
	}
	gen, _ := v.Generation(read(8), nil)
	require.Equal(t, uint64(7), gen)
	require.Equal(t, 2, reads)
	_, unverified := v.Unverified()
	require.False(t, unverified, "a view that read its generation needs no guard")
}

// TestGuardedCatalogView: a guarded view takes the generation recalled,
// without reading, and says so (Unverified); with none recalled it reads
// like any view. A plain view never recalls.
func TestGuardedCatalogView(t *testing.T) {
	reads := 0
	read := func() (uint64, bool) { reads++; return 9, true }
	recall := func(gen uint64, ok bool) func() (uint64, bool) { return func() (uint64, bool) { return gen, ok } }

	v := store.CatalogViewOf(store.WithGuardedCatalogView(context.Background()))
	for range 2 {
		gen, ok := v.Generation(read, recall(5, true))
		require.True(t, ok)
		require.Equal(t, uint64(5), gen)
	}
	require.Zero(t, reads)
	gen, unverified := v.Unverified()
	require.True(t, unverified)
	require.Equal(t, uint64(5), gen)

	v = store.CatalogViewOf(store.WithGuardedCatalogView(context.Background()))
	gen, _ = v.Generation(read, recall(0, false))
	require.Equal(t, uint64(9), gen, "nothing recalled: read")
	_, unverified = v.Unverified()
	require.False(t, unverified)

	v = store.CatalogViewOf(store.WithCatalogView(context.Background()))
	gen, _ = v.Generation(read, recall(5, true))
	require.Equal(t, uint64(9), gen, "a plain view reads")
	_, unverified = v.Unverified()
	require.False(t, unverified)
	_, unverified = (*store.CatalogView)(nil).Unverified()
	require.False(t, unverified)
	require.Equal(t, 2, reads)
}
