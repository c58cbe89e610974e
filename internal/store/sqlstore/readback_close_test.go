package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/sqlstore"
	"flowker/internal/store/storetest"
)

// TestReadBackFailureIsPassedOn: on SQLite a synchronous caller's read
// back runs in the write's transaction (ReadBackExecution), and an I/O
// error in it (here the cache spilling dirty pages to a WAL that cannot
// grow, RLIMIT_FSIZE=0) makes SQLite roll the whole transaction back.
// Passed on, the batch runs again with the failing caller alone refused.
// Let go, the callers after it would run in autocommit and commit, and
// COMMIT would then fail: told failed, yet stored. Also while the store
// closes, when classify keeps only an error's text (found by a review).
//
// Not parallel: RLIMIT_FSIZE is the process's.
func TestReadBackFailureIsPassedOn(t *testing.T) {
	for _, closing := range []bool{false, true} {
		t.Run(map[bool]string{false: "open", true: "closing"}[closing], func(t *testing.T) {
			runReadBackIOError(t, closing)
		})
	}
}

func runReadBackIOError(t *testing.T, closing bool) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowker.db")
	s, err := sqlite.Open(ctx, path, "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() }) // a second Close is a no-op
	sqlstore.SetCloseGrace(s.DB, 30*time.Second)
	now := time.Now().UTC().Truncate(time.Microsecond)
	big := strings.Repeat("x", 400_000) // the read back loads ~100 overflow pages
	a := storetest.Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
	a.Input = map[string]any{"big": big}
	b := storetest.Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Hour))
	require.NoError(t, s.CreateExecution(ctx, a))
	require.NoError(t, s.CreateExecution(ctx, b))

	gate, entered := make(chan struct{}), make(chan struct{})
	aRunning, aGo := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Batch(ctx, func(store.Tx) error { close(entered); <-gate; return nil }) })
	<-entered
	var aErr, bErr, readErr error
	var got store.ExecutionResults
	first := true
	wg.Go(func() {
		aErr = s.Batch(ctx, func(tx store.Tx) error {
			if first {
				first = false
				close(aRunning)
				<-aGo
			}
			done := *a
			done.Status, done.CompletedAt = flow.ExecCompleted, &now
			if err := tx.SaveProgress(ctx, "me", &done, nil, nil); err != nil {
				return err
			}
			// Fill the page cache (2 MB) with dirty pages.
			for range 40 {
				x := storetest.Execution(uuid.New(), flow.ExecCompleted, now, "", now)
				x.Input = map[string]any{"pad": strings.Repeat("y", 100_000)}
				if err := tx.CreateExecution(ctx, x); err != nil {
					return err
				}
			}
			var lim syscall.Rlimit // not require: this is the writer's goroutine
			if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
				return err
			}
			low := lim
			low.Cur = 0
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &low); err != nil {
				return err
			}
			readErr = tx.ReadBackExecution(ctx, a.ID, &got)
			return errors.Join(readErr, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
		})
	})
	require.Eventually(t, func() bool { return sqlstore.Queued(s.DB) == 1 }, 5*time.Second, time.Millisecond)
	wg.Go(func() {
		bErr = s.Batch(ctx, func(tx store.Tx) error {
			done := *b
			done.Status, done.CompletedAt = flow.ExecCompleted, &now
			return tx.SaveProgress(ctx, "me", &done, nil, nil)
		})
	})
	require.Eventually(t, func() bool { return sqlstore.Queued(s.DB) == 2 }, 5*time.Second, time.Millisecond)
	close(gate)
	<-aRunning
	var closeWG sync.WaitGroup
	if closing {
		closeWG.Go(func() { _ = s.Close() })
		require.Eventually(t, func() bool { return sqlstore.Closing(s.DB) }, 5*time.Second, time.Millisecond)
	}
	close(aGo)
	wg.Wait()
	closeWG.Wait()
	require.Error(t, readErr, "SQLite's own failure is passed on")
	require.Nil(t, got.Execution)
	require.NoError(t, s.Close())
	s2, err := sqlite.Open(ctx, path, "NORMAL")
	require.NoError(t, err)
	s2.UseAuditKey(storetest.AuditKey)
	defer s2.Close()
	for _, c := range []struct {
		name string
		id   uuid.UUID
		err  error
	}{{"a", a.ID, aErr}, {"b", b.ID, bErr}} {
		stored, err := s2.GetExecution(ctx, c.id)
		require.NoError(t, err)
		require.Equal(t, c.err == nil, stored.Status == flow.ExecCompleted,
			"caller %s told err=%v but its write is %s", c.name, c.err, stored.Status)
	}
}
