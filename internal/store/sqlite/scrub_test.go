package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

// walFiles reads the database file and its WAL.
func walFiles(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if !os.IsNotExist(err) {
			require.NoError(t, err)
		}
		all = append(all, b...)
	}
	return all
}

func openScrubbed(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(context.Background(), path, "FULL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// tokenToReplace stores an executor configuration whose token is old and
// returns the update that replaces it, for a store or a transaction.
func tokenToReplace(t *testing.T, s *sqlite.Store, name, old string) (replace func(store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	x := storetest.ExecutorConfig(name, time.Now().UTC().Truncate(time.Microsecond))
	x.Authentication.Config = map[string]any{"token": old}
	require.NoError(t, s.CreateExecutorConfig(ctx, x))
	return func(tx store.Tx) error {
		x.Authentication.Config = map[string]any{"token": "enc:v1:new"}
		x.Revision++
		return tx.UpdateExecutorConfig(ctx, x, x.Revision-1)
	}
}

// TestDeletedExecutionsLeaveTheWAL: retention deletes finished executions,
// whose input is sealed; once the transaction deleting them has ended, the
// WAL is checkpointed and truncated, so their old rows' bytes are in
// neither file (docs/security.md, "At rest"). Without the scrub, the WAL
// keeps the frames that wrote them.
func TestDeletedExecutionsLeaveTheWAL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openScrubbed(t)
	const marker = "enc:v1:zq-sealed-input-marker-31415"
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := storetest.Execution(uuid.New(), flow.ExecCompleted, now, "", now)
	e.Input = map[string]any{"card": marker}
	require.NoError(t, s.CreateExecution(ctx, e))
	require.True(t, bytes.Contains(walFiles(t, path), []byte(marker)), "stored")
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		n, err := tx.DeleteExecutions(ctx, []uuid.UUID{e.ID})
		require.Equal(t, 1, n)
		return err
	}))
	require.False(t, bytes.Contains(walFiles(t, path), []byte(marker)),
		"a deleted execution's input lingers in the database or the WAL")
}

// TestReplacedSealedValuesLeaveTheWAL: the same for every other table
// holding sealed values, written in a transaction or not: an executor
// configuration's authentication (not in the catalog cache, so not marked
// by a catalog write), and a workflow's webhook routes (their tokens).
func TestReplacedSealedValuesLeaveTheWAL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, inTx := range []bool{false, true} {
		s, path := openScrubbed(t)
		write := func(fn func(tx store.Tx) error) {
			if inTx {
				require.NoError(t, s.InTx(ctx, fn))
			} else {
				require.NoError(t, fn(s))
			}
		}
		gone := func(marker string) {
			t.Helper()
			require.False(t, bytes.Contains(walFiles(t, path), []byte(marker)),
				"in a transaction: %v: %q lingers in the database or the WAL", inTx, marker)
		}

		const oldToken = "enc:v1:zq-old-executor-token-27182"
		write(tokenToReplace(t, s, "kyc", oldToken))
		gone(oldToken)

		const oldVerify = "enc:v1:zq-old-verify-token-16180"
		wf := uuid.New()
		require.NoError(t, s.ReplaceWebhookRoutes(ctx, wf, []flow.WebhookRoute{{Method: "POST", Path: "/in",
			WorkflowID: wf, NodeID: "trigger", VerifyToken: oldVerify}}))
		write(func(tx store.Tx) error { return tx.ReplaceWebhookRoutes(ctx, wf, nil) })
		gone(oldVerify)
	}
}

// TestScrubCoversEveryWriteBeforeItReturns: writes replacing a sealed
// value while other transactions end around them (each of which may run a
// scrub) find its old ciphertext gone when they return, in a transaction
// or not: a scrub counts a write only once it is in (found by a review: a
// write outside a transaction marked the scrub wanted before its
// statement, and another transaction's scrub could take the mark first).
func TestScrubCoversEveryWriteBeforeItReturns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, inTx := range []bool{false, true} {
		s, path := openScrubbed(t)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, write := range []func() error{ // a group commit's end, and InTx's, each may run a scrub
			func() error { return s.Batch(ctx, func(store.Tx) error { return nil }) },
			func() error {
				return s.InTx(ctx, func(store.Tx) error { time.Sleep(100 * time.Microsecond); return nil })
			},
		} {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						_ = write()
					}
				}
			})
		}
		lingered := 0
		for i := range 60 {
			old := fmt.Sprintf("enc:v1:zq-old-token-%06d-xyzzy", i)
			replace := tokenToReplace(t, s, fmt.Sprintf("kyc-%d", i), old)
			if inTx {
				require.NoError(t, s.InTx(ctx, replace))
			} else {
				require.NoError(t, replace(s))
			}
			if bytes.Contains(walFiles(t, path), []byte(old)) {
				lingered++
			}
		}
		close(stop)
		wg.Wait()
		require.Zero(t, lingered, "in a transaction: %v: old ciphertext still in the files when the write returned", inTx)
	}
}

// replaceWhileReading stores an executor configuration whose token is old,
// then replaces it while a reader of the files is in the middle of a read,
// so the write's scrub cannot finish. atRead runs while the read is open;
// the read ends after it.
func replaceWhileReading(t *testing.T, s *sqlite.Store, path, old string, atRead func()) {
	t.Helper()
	ctx := context.Background()
	replace := tokenToReplace(t, s, "kyc", old)
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer db.Close()
	reader, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, reader.Rollback()) }()
	var n int
	require.NoError(t, reader.QueryRowContext(ctx, "SELECT count(*) FROM executions").Scan(&n))
	require.NoError(t, s.InTx(ctx, replace))
	atRead()
}

// TestScrubAtOpen: a scrub wanted when the process died (a reader was in
// the way) is in memory only; opening the files scrubs them.
func TestScrubAtOpen(t *testing.T) {
	t.Parallel()
	s, path := openScrubbed(t)
	const old = "enc:v1:zq-old-token-crash-123456"
	crashed := filepath.Join(t.TempDir(), "flowker.db")
	replaceWhileReading(t, s, path, old, func() { // the files as a kill -9 now would leave them
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(path + suffix)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(crashed+suffix, b, 0o600))
		}
	})
	require.True(t, bytes.Contains(walFiles(t, crashed), []byte(old)), "the reader kept the scrub off")
	s2, err := sqlite.Open(context.Background(), crashed, "FULL")
	require.NoError(t, err)
	s2.UseAuditKey(storetest.AuditKey)
	defer s2.Close()
	require.False(t, bytes.Contains(walFiles(t, crashed), []byte(old)), "old ciphertext left after a restart")
}

// TestCloseDoesNotWaitForAScrub: a retry's scrub waits for the writer
// connection, which a long transaction holds; Close does not wait for it
// (found by a review: stop took the scrub's lock, held for up to 5 s).
func TestCloseDoesNotWaitForAScrub(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openScrubbed(t)
	replaceWhileReading(t, s, path, "enc:v1:a", func() {}) // a retry in 50 ms

	release, inTx := make(chan struct{}), make(chan struct{})
	go func() { _ = s.InTx(ctx, func(store.Tx) error { close(inTx); <-release; return nil }) }()
	<-inTx
	time.Sleep(200 * time.Millisecond) // the retry fired, and waits for the writer
	start := time.Now()
	closed := make(chan struct{})
	go func() { _ = s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
	}
	took := time.Since(start)
	close(release)
	<-closed
	require.Less(t, took, time.Second, "Close waited for a retry's scrub")
}
