package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestAuditChainedInGoAndOnServer: during a rolling deploy, a replica that
// still seals events in Go (no Dialect.AuditAppend) and one that has the
// server chain them append concurrently to one chain, which verifies: both
// hold the audit lock from the head's read to commit, and hash alike.
func TestAuditChainedInGoAndOnServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	open := func(d sqlstore.Dialect) *sqlstore.DB {
		db, err := sql.Open("pgx", url)
		require.NoError(t, err)
		s, err := sqlstore.Open(ctx, db, db, d)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	server := open(dialect(nil))
	inGo := dialect(nil)
	inGo.AuditAppend = ""
	old := open(inGo)

	const each = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for i := range 2 * each {
		s := []*sqlstore.DB{server, old}[i%2]
		wg.Go(func() {
			e := &audit.Event{ID: uuid.New(), Timestamp: time.Now().UTC(), EventType: "EXECUTION_COMPLETED",
				Action: "EXECUTE", Result: "SUCCESS", ResourceType: "execution", ResourceID: fmt.Sprint("é", i),
				Metadata: map[string]any{"i": float64(i)}}
			if i%4 < 2 {
				errs <- s.Batch(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) })
			} else {
				errs <- s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) })
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	v := audit.NewVerifier("")
	require.NoError(t, server.WalkAudit(ctx, 1, 1<<62, v.Check))
	res := v.Result()
	require.True(t, res.Valid, res.Reason)
	require.Equal(t, 2*each, res.Checked)
}
