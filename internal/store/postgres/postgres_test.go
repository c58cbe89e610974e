package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store"
	"flowker/internal/store/postgres"
	"flowker/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.PostgresURL(t) // skip the whole suite early when no database is configured
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), storetest.PostgresURL(t), 8)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}
