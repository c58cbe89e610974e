package service_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
	"flowker/internal/service"
	"flowker/internal/store/faultstore" //nolint:depguard // a batch held half-way
	"flowker/internal/store/storetest"  //nolint:depguard // a fresh PostgreSQL schema for the test
)

// TestArchiveConcurrentPostgres: two processes archive from one database
// into one directory. While one holds a batch, the other archives nothing
// (it would otherwise take the next rows and rewrite the same manifest);
// racing freely, every due execution is archived exactly once, every file
// is in its manifest and in the chain, and nothing is left over.
func TestArchiveConcurrentPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	a, b := faultstore.Wrap(openPostgres(t, url)), openPostgres(t, url)
	p := policy(t, 3)
	var mu sync.Mutex
	var files []string
	archive := func(svc *service.Service) error {
		res, err := svc.ArchiveExecutions(ctx, p)
		mu.Lock()
		defer mu.Unlock()
		files = append(files, res.Files...)
		return err
	}

	h := seedHistory(t, a, 6)
	a.Fail("DeleteExecutions", faultstore.Hang, nil)
	t.Cleanup(func() { a.Clear("DeleteExecutions") }) // before the stores close, should an assertion fail
	held := make(chan error, 1)
	go func() { held <- archive(newRetention(t, a)) }()
	<-a.Called("DeleteExecutions") // a's first batch: file written, rows and lock held
	busy, err := newRetention(t, b).ArchiveExecutions(ctx, p)
	require.NoError(t, err)
	require.Zero(t, busy.Executions, "the other process holds the retention lock")
	a.Clear("DeleteExecutions")
	require.NoError(t, <-held)

	more := seedHistory(t, b, 12)
	h.due = append(h.due, more.due...)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, svc := range []*service.Service{newRetention(t, a), newRetention(t, b)} {
		wg.Go(func() {
			<-start
			for range 10 { // a run that finds the other one archiving returns at once
				if err := archive(svc); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	require.NoError(t, archive(newRetention(t, b))) // whatever both runs left

	require.Equal(t, idStrings(h.due), sortedCopy(archivedIDs(t, p.ArchiveDir, files)), "each once")
	require.Equal(t, sortedCopy(files), sortedCopy(manifestEntries(t, p.ArchiveDir)), "no manifest rewrite lost")
	svc := newRetention(t, b)
	check, err := svc.VerifyArchive(ctx, p.ArchiveDir)
	require.NoError(t, err)
	require.True(t, check.Valid())
	require.Empty(t, check.Unrecorded)
	require.Equal(t, len(files), check.Checked)
	events, err := b.ListAudit(ctx, audit.Filter{EventType: "EXECUTIONS_ARCHIVED", Limit: 100})
	require.NoError(t, err)
	var recorded []string
	for _, e := range events {
		recorded = append(recorded, e.Metadata["file"].(string))
	}
	require.ElementsMatch(t, files, recorded)
	verifyChain(t, svc, b)
}
