package service_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/faultstore" //nolint:depguard // a configuration write held between its check and its write
	"flowker/internal/store/storetest"  //nolint:depguard // a fresh PostgreSQL schema for the test
)

// newConfig makes, on s, a provider configuration named name.
func newConfig(ctx context.Context, t *testing.T, s *service.Service, name string) uuid.UUID {
	t.Helper()
	p, err := s.CreateProviderConfig(ctx, flow.ProviderConfig{Name: name, ProviderID: "http",
		Config: map[string]any{"base_url": "https://ledger.example.com"}})
	require.NoError(t, err)
	return p.ID
}

// secretWorkflow makes, on s, an active workflow named name whose executor
// node holds a secret header of its own and calls provider configuration
// pc.
func secretWorkflow(ctx context.Context, t *testing.T, s *service.Service, name string, pc uuid.UUID) uuid.UUID {
	t.Helper()
	w, err := s.CreateWorkflow(ctx, flow.Definition{Name: name, Nodes: []flow.Node{
		{ID: "start", Type: flow.NodeTrigger},
		{ID: "pay", Type: flow.NodeExecutor, Data: map[string]any{"executorId": "http.request",
			"providerConfigId": pc.String(), "method": "POST", "path": "/pay",
			"headers": map[string]any{"X-Partner-Sig": "node-partner-value-SECRET-7731"}}},
	}, Edges: []flow.Edge{{ID: "e1", Source: "start", Target: "pay"}}})
	require.NoError(t, err)
	_, err = s.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	return w.ID
}

// failedRun starts an execution of wf on s and stores it failed. With
// deleted, wf is then deactivated and deleted: only the retry's check
// guards the configuration's URL (failed executions and deleted workflows
// do not hold it).
func failedRun(ctx context.Context, t *testing.T, s *service.Service, raw store.Store, wf uuid.UUID, deleted bool) flow.Execution {
	t.Helper()
	started, err := s.StartExecution(ctx, service.StartRequest{WorkflowID: wf, Input: map[string]any{"n": 1.0}})
	require.NoError(t, err)
	failed := *started.Execution
	now := time.Now().UTC().Truncate(time.Microsecond)
	failed.Status, failed.CompletedAt, failed.UpdatedAt, failed.ErrorMessage = flow.ExecFailed, &now, now, "ledger answered 400"
	require.NoError(t, raw.Batch(ctx, func(tx store.Tx) error {
		return tx.SaveProgress(ctx, acceptAll{}.Owner(), &failed, nil, nil)
	}))
	if deleted {
		_, err = s.DeactivateWorkflow(ctx, wf)
		require.NoError(t, err)
		require.NoError(t, s.DeleteWorkflow(ctx, wf))
	}
	return failed
}

// moveURL points provider configuration id elsewhere.
func moveURL(ctx context.Context, s *service.Service, id uuid.UUID) error {
	_, err := s.UpdateProviderConfig(ctx, id, service.ProviderConfigPatch{
		Config: map[string]any{"base_url": "https://elsewhere.example.com"}})
	return err
}

// TestRetryRacesConfigURLMove: a failed execution whose node calls a
// provider configuration with a secret header of its own is retried while
// that configuration's URL moves, on PostgreSQL. The move has passed its
// check (no execution under way calls it) and is about to write; the retry
// reads the configuration unchanged. Both must not succeed: the retry
// would send the node's secret to the new URL. With the retry taking the
// catalog lock the move holds, it waits for the move and is refused 422
// FLK-0512 (found by a review: both succeeded).
func TestRetryRacesConfigURLMove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw := openPostgres(t, storetest.PostgresURL(t))
	st := faultstore.Wrap(raw)
	s := newTestService(t, st, service.WithDispatcher(acceptAll{}))
	pc := newConfig(ctx, t, s, "ledger")
	wf := secretWorkflow(ctx, t, s, "ledger", pc)
	failed := failedRun(ctx, t, s, raw, wf, true)

	st.Fail("UpdateProviderConfig", faultstore.Hang, nil)
	var moveErr, retryErr error
	var wg sync.WaitGroup
	wg.Go(func() { moveErr = moveURL(ctx, s, pc) })
	<-st.Called("UpdateProviderConfig") // checked, lock held, about to write

	locking := make(chan struct{})
	var once sync.Once
	st.Watch("LockCatalog", func(context.Context) { once.Do(func() { close(locking) }) })
	retried := make(chan struct{})
	wg.Go(func() { defer close(retried); _, retryErr = s.RetryExecution(ctx, failed.ID) })
	select {
	case <-retried: // it did not wait for the move
	case <-locking:
		time.Sleep(200 * time.Millisecond) // its lock request reaches the database
	case <-time.After(10 * time.Second):
		t.Fatal("the retry neither ended nor asked for the catalog lock")
	}
	st.Clear("UpdateProviderConfig")
	wg.Wait()

	require.NoError(t, moveErr, "the move was first")
	require.ErrorIs(t, retryErr, &flow.Error{Code: flow.CodeNotRetryable},
		"the retry, after the move, would send the node's secret to the new URL")
	got, err := s.GetExecution(ctx, failed.ID)
	require.NoError(t, err)
	require.Equal(t, flow.ExecFailed, got.Status)
}

// A retry that waits for the catalog lock (another replica's catalog
// write holds it, hung) holds no other write of its process: it runs in
// its own transaction. In the group commit it shared with starts and
// steps, every one of them waited with it, then failed at the batch's
// deadline (found by a defect hunt). Once the lock is free the retry
// runs: the hung write was of another configuration.
func TestRetryWaitingForTheCatalogLockHoldsNoOtherWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	rawB := openPostgres(t, url)
	stB := faultstore.Wrap(rawB)
	b := newTestService(t, stB, service.WithDispatcher(acceptAll{}))
	wf := secretWorkflow(ctx, t, b, "pay", newConfig(ctx, t, b, "pay"))
	failed := failedRun(ctx, t, b, rawB, wf, false)

	release := holdCatalogLock(ctx, t, url)

	locking := make(chan struct{})
	var once sync.Once
	stB.Watch("LockCatalog", func(context.Context) { once.Do(func() { close(locking) }) })
	var retryErr error
	var wg sync.WaitGroup
	wg.Go(func() { _, retryErr = b.RetryExecution(ctx, failed.ID) })
	<-locking
	time.Sleep(200 * time.Millisecond) // its lock request reaches the database

	took, err := timedStart(ctx, b, wf)
	release()
	wg.Wait()
	require.NoError(t, err, "a start failed for a retry's wait for the catalog lock")
	require.Less(t, took, 3*time.Second, "a start waited with a retry for the catalog lock")
	require.NoError(t, retryErr, "the hung write was of another configuration")
}

// "Updated since the execution started" is read in the audit chain's
// order, which every replica shares, not by comparing timestamps from two
// replicas' clocks (found by a defect hunt): a replica whose clock is
// behind moves the URL after the execution failed, and its retry is
// refused; a replica whose clock is ahead moved it before the execution
// started, and its retry runs.
func TestRetryAfterAMoveOnAReplicaWithAnotherClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	rawB := openPostgres(t, url)
	b := newTestService(t, rawB, service.WithDispatcher(acceptAll{}))
	behind := newTestService(t, openPostgres(t, url),
		service.WithClock(func() time.Time { return time.Now().UTC().Add(-time.Hour) }))
	ahead := newTestService(t, openPostgres(t, url),
		service.WithClock(func() time.Time { return time.Now().UTC().Add(time.Hour) }))

	pc := newConfig(ctx, t, b, "moved-after")
	wf := secretWorkflow(ctx, t, b, "moved-after", pc)
	failed := failedRun(ctx, t, b, rawB, wf, true)
	require.NoError(t, moveURL(ctx, behind, pc))
	_, err := b.RetryExecution(ctx, failed.ID)
	require.ErrorIs(t, err, &flow.Error{Code: flow.CodeNotRetryable},
		"moved after the execution started, yet retried: the node's secret goes to the new URL")

	pc = newConfig(ctx, t, b, "moved-before")
	require.NoError(t, moveURL(ctx, ahead, pc))
	wf = secretWorkflow(ctx, t, b, "moved-before", pc)
	failed = failedRun(ctx, t, b, rawB, wf, true)
	_, err = b.RetryExecution(ctx, failed.ID)
	require.NoError(t, err, "moved before the execution started: it ran against the new URL already")
}

// Retries waiting for the catalog lock (another replica's catalog write
// holds it, hung) hold at most catalogTxSlots of the pool's connections
// (4 here): the rest wait for a slot on none, and a start goes through.
// Each held a connection while it waited, and as many retries as the pool
// has connections held every start and step until the deadline (found by
// a review).
func TestRetriesWaitingForTheCatalogLockLeaveThePool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	rawB := openPostgres(t, url) // 4 connections
	b := newTestService(t, rawB, service.WithDispatcher(acceptAll{}))
	wf := secretWorkflow(ctx, t, b, "pay", newConfig(ctx, t, b, "pay"))
	var failed []flow.Execution
	for range 6 {
		failed = append(failed, failedRun(ctx, t, b, rawB, wf, false))
	}

	release := holdCatalogLock(ctx, t, url)

	var wg sync.WaitGroup
	for i := range failed {
		wg.Go(func() { _, _ = b.RetryExecution(ctx, failed[i].ID) })
	}
	time.Sleep(500 * time.Millisecond) // their lock requests reach the database

	took, err := timedStart(ctx, b, wf)
	release()
	wg.Wait()
	require.NoError(t, err, "a start failed for retries' wait for the catalog lock")
	require.Less(t, took, 3*time.Second, "a start waited with retries for the catalog lock (pool taken)")
}

// A retry whose revision has no node holding secrets of its own takes no
// catalog lock, so it does not wait for a turn among the transactions
// that do: with another replica's catalog write hung holding the lock and
// this process's catalog writes waiting for it (both turns taken, a third
// queued), it goes through at once. It waited behind them all, and with
// writes arriving ahead of it answered 503 at the deadline (found by a
// review).
func TestRetryNeedingNoCatalogLockPassesCatalogWritesWaitingForIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	rawB := openPostgres(t, url) // 4 connections
	const deadline = 2 * time.Second
	b := newTestService(t, rawB, service.WithDispatcher(acceptAll{}), service.WithWriteDeadline(deadline))
	pc := newConfig(ctx, t, b, "pay")
	w, err := b.CreateWorkflow(ctx, flow.Definition{Name: "plain", Nodes: []flow.Node{
		{ID: "start", Type: flow.NodeTrigger},
		{ID: "pay", Type: flow.NodeExecutor, Data: map[string]any{"executorId": "http.request",
			"providerConfigId": pc.String(), "method": "POST", "path": "/pay"}}, // no secret of its own
	}, Edges: []flow.Edge{{ID: "e1", Source: "start", Target: "pay"}}})
	require.NoError(t, err)
	_, err = b.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	failed := failedRun(ctx, t, b, rawB, w.ID, false)
	mine := []string{"b-1", "b-2", "b-3"}
	ids := make(map[string]flow.ProviderConfig)
	for _, name := range mine {
		p, err := b.CreateProviderConfig(ctx, flow.ProviderConfig{Name: name, ProviderID: "http",
			Config: map[string]any{"base_url": "https://risk.example.com"}})
		require.NoError(t, err)
		ids[name] = *p
	}

	release := holdCatalogLock(ctx, t, url)

	// B's own catalog writes want that lock, and keep coming: two wait for
	// it on a connection, a third for a slot (their clients get 503 at the
	// deadline: fair, they need the lock).
	var wg sync.WaitGroup
	for i, name := range mine {
		if i == 2 {
			time.Sleep(300 * time.Millisecond) // the first two's lock requests reach the database
		}
		wg.Go(func() {
			renamed := name + "-renamed"
			_, _ = b.UpdateProviderConfig(ctx, ids[name].ID, service.ProviderConfigPatch{Name: &renamed})
		})
	}
	time.Sleep(20 * time.Millisecond) // the third queues for a slot

	began := time.Now()
	_, err = b.RetryExecution(ctx, failed.ID)
	took := time.Since(began)
	release()
	wg.Wait()
	require.NoError(t, err, "a retry that needs no catalog lock failed, after %v, for catalog writes waiting for it", took)
	require.Less(t, took, deadline/2, "a retry that needs no catalog lock waited for catalog writes' slots")
}

// countedPlaces is an engine that counts the places reserved and not
// released.
type countedPlaces struct {
	acceptAll
	held *atomic.Int64
}

func (d countedPlaces) Reserve() bool { d.held.Add(1); return true }
func (d countedPlaces) Release()      { d.held.Add(-1) }

// A retry's read of its execution, before its transaction, ends at the
// write deadline with the transaction: a read that did not come back held
// the request and an engine place until the client gave up (found by a
// review). It answers 503 FLK-0012 at the deadline, its place released.
func TestRetryReadsWithinItsWriteDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	st := faultstore.Wrap(openPostgres(t, url))
	var held atomic.Int64
	const deadline = 500 * time.Millisecond
	s := newTestService(t, st, service.WithDispatcher(countedPlaces{held: &held}), service.WithWriteDeadline(deadline))
	pc := newConfig(ctx, t, s, "pay")
	w, err := s.CreateWorkflow(ctx, flow.Definition{Name: "plain", Nodes: []flow.Node{
		{ID: "start", Type: flow.NodeTrigger},
		{ID: "pay", Type: flow.NodeExecutor, Data: map[string]any{"executorId": "http.request",
			"providerConfigId": pc.String(), "method": "POST", "path": "/pay"}},
	}, Edges: []flow.Edge{{ID: "e1", Source: "start", Target: "pay"}}})
	require.NoError(t, err)
	_, err = s.ActivateWorkflow(ctx, w.ID)
	require.NoError(t, err)
	failed := failedRun(ctx, t, s, st, w.ID, false)
	held.Store(0)

	st.Fail("GetExecution", faultstore.Hang, nil) // the read does not come back
	t.Cleanup(func() { st.Clear("GetExecution") })
	rctx, cancel := context.WithTimeout(ctx, 4*time.Second) // the client's patience
	defer cancel()
	var during atomic.Int64
	go func() {
		time.Sleep(3 * deadline)
		during.Store(held.Load())
	}()
	began := time.Now()
	_, err = s.RetryExecution(rctx, failed.ID)
	took := time.Since(began)
	require.ErrorContains(t, err, "passed its deadline", "503 FLK-0012, nothing written")
	require.Zero(t, held.Load(), "the engine place was not released")
	require.Less(t, took, 3*deadline,
		"a retry answered after %v (%v), not at its write deadline (%v); it held an engine place meanwhile (%d at 3x the deadline)",
		took, err, deadline, during.Load())
}

// holdCatalogLock has another replica (a second store on url) hold the
// catalog lock: its catalog write, of an unrelated configuration, hangs
// once it took the lock. release lets it go on (also at the test's end).
func holdCatalogLock(ctx context.Context, t *testing.T, url string) (release func()) {
	t.Helper()
	st := faultstore.Wrap(openPostgres(t, url))
	a := newTestService(t, st)
	other, err := a.CreateProviderConfig(ctx, flow.ProviderConfig{Name: "unrelated", ProviderID: "http",
		Config: map[string]any{"base_url": "https://risk.example.com"}})
	require.NoError(t, err)
	st.Fail("UpdateProviderConfig", faultstore.Hang, nil)
	var hung sync.WaitGroup
	hung.Go(func() {
		name := "renamed"
		_, _ = a.UpdateProviderConfig(ctx, other.ID, service.ProviderConfigPatch{Name: &name})
	})
	release = func() { st.Clear("UpdateProviderConfig") }
	t.Cleanup(func() { release(); hung.Wait() })
	<-st.Called("UpdateProviderConfig") // the lock held
	return release
}

// timedStart starts an execution of wf on s: how long it took, and its
// error.
func timedStart(ctx context.Context, s *service.Service, wf uuid.UUID) (time.Duration, error) {
	began := time.Now()
	_, err := s.StartExecution(ctx, service.StartRequest{WorkflowID: wf, Input: map[string]any{"n": 2.0}})
	return time.Since(began), err
}
