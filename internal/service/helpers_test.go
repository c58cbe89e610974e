package service_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/secret"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/postgres" //nolint:depguard // processes sharing one PostgreSQL database
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// newTestService is a service on st, sealing with a fixed test key.
func newTestService(t *testing.T, st store.Store, opts ...service.Option) *service.Service {
	t.Helper()
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, secret.KeySize))
	require.NoError(t, err)
	return service.New(st, box, opts...)
}

// openSQLite opens a fresh SQLite store, closed when the test ends.
func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	st.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// openPostgres opens a store on url (storetest.PostgresURL: a fresh
// schema), closed when the test ends; several on one url are several
// processes.
func openPostgres(t *testing.T, url string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), url, 4)
	require.NoError(t, err)
	st.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = st.Close() })
	return st
}
