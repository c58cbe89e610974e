package faultstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/faultstore"
	"flowker/internal/store/sqlite"
	"flowker/internal/store/storetest"
)

var errBoom = errors.New("boom")

func open(t *testing.T) *faultstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flowker.db"), "NORMAL")
	require.NoError(t, err)
	s.UseAuditKey(storetest.AuditKey)
	t.Cleanup(func() { _ = s.Close() })
	return faultstore.Wrap(s)
}

// wait receives one signal from ch or fails the test.
func wait(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no call signalled")
	}
}

func TestForwards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := open(t)
	w := storetest.Workflow("fwd", storetest.NewClock().Now())
	require.NoError(t, f.CreateWorkflow(ctx, w))
	got, err := f.GetWorkflow(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, w, got)
	require.NoError(t, f.Ping(ctx))
	require.Equal(t, "sqlite", f.Driver())
	require.Equal(t, 1, f.Calls("CreateWorkflow"))
	require.Equal(t, 1, f.Calls("GetWorkflow"))
	require.Equal(t, 1, f.Calls("Driver"))
	require.Zero(t, f.Calls("ListSteps"))
}

func TestOnceAndAlways(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := open(t)
	id := uuid.New()

	f.Fail("GetExecution", faultstore.Once, errBoom)
	_, err := f.GetExecution(ctx, id)
	require.ErrorIs(t, err, errBoom)
	_, err = f.GetExecution(ctx, id)
	require.ErrorIs(t, err, flow.ErrExecutionNotFound, "Once fails one call only")

	unavailable := store.Unavailable(errors.New("connection refused"))
	f.Fail("GetExecution", faultstore.Always, unavailable)
	for range 3 {
		_, err = f.GetExecution(ctx, id)
		require.ErrorIs(t, err, store.ErrUnavailable)
	}
	_, err = f.GetWorkflow(ctx, id)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound, "other methods are unaffected")
	f.Clear("GetExecution")
	_, err = f.GetExecution(ctx, id)
	require.ErrorIs(t, err, flow.ErrExecutionNotFound)
	require.Equal(t, 6, f.Calls("GetExecution"), "failed calls count too")
}

func TestHang(t *testing.T) {
	t.Parallel()
	f := open(t)
	id := uuid.New()
	f.Fail("ListSteps", faultstore.Hang, nil)
	called := f.Called("ListSteps")

	// Until ctx ends: the call returns ctx's cause.
	stop := errors.New("test gave up")
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { _, err := f.ListSteps(ctx, id); done <- err }()
	wait(t, called)
	select {
	case err := <-done:
		t.Fatalf("a hung call returned: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	cancel(stop)
	require.ErrorIs(t, <-done, stop)

	// Until Clear: the call then goes through.
	go func() {
		steps, err := f.ListSteps(context.Background(), id)
		if err == nil && len(steps) != 0 {
			err = errors.New("unexpected steps")
		}
		done <- err
	}()
	wait(t, called)
	f.Clear("ListSteps")
	require.NoError(t, <-done)

	// Replacing a Hang fault lets its hung calls through too.
	f.Fail("Ping", faultstore.Hang, nil)
	go func() { done <- f.Ping(context.Background()) }()
	wait(t, f.Called("Ping"))
	f.Fail("Ping", faultstore.Once, errBoom)
	require.NoError(t, <-done)
	require.ErrorIs(t, f.Ping(context.Background()), errBoom)
}

// TestFaultsInsideTransactions: a fault applies to calls made through the
// Tx handed to InTx and Batch callbacks, and rolls back like a real error.
func TestFaultsInsideTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := open(t)
	c := storetest.NewClock()
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := storetest.Execution(uuid.New(), flow.ExecRunning, now, "me", now.Add(time.Minute))
	require.NoError(t, f.CreateExecution(ctx, e))

	f.Fail("SaveProgress", faultstore.Once, errBoom)
	called := f.Called("SaveProgress")
	save := func() error {
		return f.Batch(ctx, func(tx store.Tx) error { return tx.SaveProgress(ctx, "me", e, nil, nil) })
	}
	require.ErrorIs(t, save(), errBoom)
	wait(t, called)
	require.NoError(t, save())
	require.Equal(t, 2, f.Calls("SaveProgress"))
	require.Equal(t, 2, f.Calls("Batch"))

	w := storetest.Workflow("in-tx", c.Now())
	f.Fail("AppendAudit", faultstore.Always, errBoom)
	err := f.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateWorkflow(ctx, w); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, nil) // never reaches the store
	})
	require.ErrorIs(t, err, errBoom)
	_, err = f.GetWorkflow(ctx, w.ID)
	require.ErrorIs(t, err, flow.ErrWorkflowNotFound, "the transaction rolled back")
	require.Equal(t, 1, f.Calls("CreateWorkflow"))

	// A fault on Batch or InTx itself: fn never runs.
	f.Fail("Batch", faultstore.Once, errBoom)
	ran := false
	require.ErrorIs(t, f.Batch(ctx, func(store.Tx) error { ran = true; return nil }), errBoom)
	f.Fail("InTx", faultstore.Once, errBoom)
	require.ErrorIs(t, f.InTx(ctx, func(store.Tx) error { ran = true; return nil }), errBoom)
	require.False(t, ran)
}

// TestConcurrent: under concurrent calls a Once fault fails exactly one,
// every call is counted, and signals never block callers.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := open(t)
	id := uuid.New()
	f.Fail("GetWorkflow", faultstore.Once, errBoom)
	const callers = 100 // more than the signal buffer
	var wg sync.WaitGroup
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			_, errs[i] = f.GetWorkflow(ctx, id)
			_ = f.Calls("GetWorkflow")
			_ = f.Called("GetWorkflow")
		})
	}
	wg.Go(func() { f.Fail("GetExecution", faultstore.Always, errBoom); f.Clear("GetExecution") })
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if errors.Is(err, errBoom) {
			failed++
		} else {
			require.ErrorIs(t, err, flow.ErrWorkflowNotFound)
		}
	}
	require.Equal(t, 1, failed)
	require.Equal(t, callers, f.Calls("GetWorkflow"))
	require.Len(t, f.Called("GetWorkflow"), 64, "signals beyond the buffer are dropped")
}
