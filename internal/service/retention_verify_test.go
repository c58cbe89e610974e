package service_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/faultstore" //nolint:depguard // a batch held half-way
)

func TestVerifyArchiveNotConfigured(t *testing.T) {
	t.Parallel()
	_, err := newRetention(t, openSQLite(t)).VerifyArchive(context.Background(), "")
	require.ErrorIs(t, err, service.ErrArchiveNotConfigured)
}

type archiveCheck struct {
	check service.ArchiveCheck
	err   error
}

// TestVerifyArchiveDuringBatch: a batch lists its file in its day's
// manifest before its event commits. A verification that reads the
// manifest in that window waits for the batch to end and reads the events
// again: the file is recorded, not reported unrecorded.
func TestVerifyArchiveDuringBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := faultstore.Wrap(openSQLite(t))
	seedHistory(t, st, 2)
	svc := newRetention(t, st)
	p := policy(t, 10)

	st.Fail("DeleteExecutions", faultstore.Hang, nil)
	t.Cleanup(func() { st.Clear("DeleteExecutions") }) // before the store closes, should an assertion fail
	archived := make(chan error, 1)
	go func() {
		_, err := svc.ArchiveExecutions(ctx, p)
		archived <- err
	}()
	<-st.Called("DeleteExecutions") // file and manifest written, the event not committed
	inFlight := manifestEntries(t, p.ArchiveDir)
	require.Len(t, inFlight, 1)
	txs := st.Called("InTx")
	for len(txs) > 0 {
		<-txs
	}
	checked := make(chan archiveCheck, 1)
	go func() {
		c, err := svc.VerifyArchive(ctx, p.ArchiveDir)
		checked <- archiveCheck{c, err}
	}()
	select { // the verification saw the entry without its event: it waits for the batch
	case <-txs:
	case r := <-checked:
		t.Fatalf("the verification answered while a batch was in flight: %+v", r)
	}
	select {
	case r := <-checked:
		t.Fatalf("the verification did not wait for the batch in flight: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	st.Clear("DeleteExecutions")
	r := <-checked
	require.NoError(t, r.err)
	require.True(t, r.check.Valid())
	require.Empty(t, r.check.Unrecorded, "the batch committed: its file is recorded")
	require.GreaterOrEqual(t, r.check.Checked, 1)
	require.NoError(t, <-archived)

	check, err := svc.VerifyArchive(ctx, p.ArchiveDir)
	require.NoError(t, err)
	require.Equal(t, service.ArchiveCheck{Checked: 2}, check, "one file per day")
	verifyChain(t, svc, st)
}

// lockHeldElsewhere reports the retention lock held by another process
// (as PostgreSQL's TryLock does) for the first held tries, calling
// meanwhile for each.
type lockHeldElsewhere struct {
	store.Store
	mu        sync.Mutex
	held      int
	meanwhile func(ctx context.Context, tx store.Tx) error
}

func (s *lockHeldElsewhere) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error { return fn(heldLockTx{Tx: tx, s: s}) })
}

type heldLockTx struct {
	store.Tx
	s *lockHeldElsewhere
}

func (x heldLockTx) TryLock(ctx context.Context, name string) (bool, error) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.held == 0 {
		return x.Tx.TryLock(ctx, name)
	}
	x.s.held--
	return false, x.s.meanwhile(ctx, x.Tx)
}

// TestVerifyArchiveWaitsForTheLock: where the retention lock is another
// process's (PostgreSQL), the verification tries it again until it is
// free, and reports unrecorded only what is still unrecorded then: here,
// the other process's batch commits its event while the lock is held.
func TestVerifyArchiveWaitsForTheLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := faultstore.Wrap(openSQLite(t))
	seedHistory(t, st, 1)
	p := policy(t, 10)
	st.Fail("DeleteExecutions", faultstore.Once, errors.New("lost"))
	_, err := newRetention(t, st).ArchiveExecutions(ctx, p)
	require.Error(t, err)
	leftover := manifestEntries(t, p.ArchiveDir)
	require.Len(t, leftover, 1)
	data, err := os.ReadFile(filepath.Join(p.ArchiveDir, leftover[0]))
	require.NoError(t, err)
	sum := sha256.Sum256(data)

	held := &lockHeldElsewhere{Store: st, held: 2}
	held.meanwhile = func(ctx context.Context, tx store.Tx) error {
		if held.held > 0 {
			return nil
		}
		// The last try before the lock frees: the other process commits.
		return tx.AppendAudit(ctx, audit.NewEvent(ctx, uuid.New(), retentionNow, "EXECUTIONS_ARCHIVED", "ARCHIVE",
			"SUCCESS", "execution_archive", uuid.NewString(),
			map[string]any{"file": leftover[0], "sha256": hex.EncodeToString(sum[:])}))
	}
	check, err := newRetention(t, held).VerifyArchive(ctx, p.ArchiveDir)
	require.NoError(t, err)
	require.Equal(t, service.ArchiveCheck{Checked: 1}, check)
	require.Zero(t, held.held, "it tried the lock until it was free")

	// The event committed meanwhile vouches for the file from now on.
	require.NoError(t, os.WriteFile(filepath.Join(p.ArchiveDir, leftover[0]), []byte("forged"), 0o600))
	check, err = newRetention(t, st).VerifyArchive(ctx, p.ArchiveDir)
	require.NoError(t, err)
	require.Equal(t, []string{leftover[0]}, check.Altered)
}

// TestVerifyArchiveUnreadable: what cannot be read is an error, never an
// empty archive or a missing file; a directory that does not exist
// holds none of the recorded files.
func TestVerifyArchiveUnreadable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, p, res := archivedOnce(t)
	require.Len(t, res.Files, 2)

	check, err := svc.VerifyArchive(ctx, filepath.Join(t.TempDir(), "gone"))
	require.NoError(t, err)
	require.Equal(t, service.ArchiveCheck{Checked: 2, Missing: res.Files}, check)

	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600))
	_, err = svc.VerifyArchive(ctx, notDir)
	require.Error(t, err)

	file := filepath.Join(p.ArchiveDir, filepath.FromSlash(res.Files[0]))
	require.NoError(t, os.Remove(file))
	require.NoError(t, os.Mkdir(file, 0o700)) // reading it fails
	_, err = svc.VerifyArchive(ctx, p.ArchiveDir)
	require.ErrorContains(t, err, res.Files[0])
	require.NoError(t, os.Remove(file))

	manifest := filepath.Join(p.ArchiveDir, filepath.Dir(filepath.FromSlash(res.Files[1])), "MANIFEST.json")
	require.NoError(t, os.Remove(manifest))
	require.NoError(t, os.Mkdir(manifest, 0o700))
	_, err = svc.VerifyArchive(ctx, p.ArchiveDir)
	require.ErrorContains(t, err, "MANIFEST.json")
}

// archivedOnce is a service on a SQLite store whose history one archiving
// run has archived (two files), with its policy and what the run did.
func archivedOnce(t *testing.T) (*service.Service, service.RetentionPolicy, service.ArchiveResult) {
	t.Helper()
	st := openSQLite(t)
	seedHistory(t, st, 1)
	svc := newRetention(t, st)
	p := policy(t, 10)
	res, err := svc.ArchiveExecutions(context.Background(), p)
	require.NoError(t, err)
	require.NotEmpty(t, res.Files)
	return svc, p, res
}
