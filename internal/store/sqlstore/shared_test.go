package sqlstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/store"
)

// TestSharedReads: callers asking while a statement runs share the next
// one — never the running one, which began before they asked — and each
// gets its own row's answer, not found, the statement's error, or, when
// its own context ends, that.
func TestSharedReads(t *testing.T) {
	t.Parallel()
	notFound := errors.New("not found")
	known := uuid.New()
	var statements atomic.Int32
	var asked sync.Map // id -> statement number that read it
	release := make(chan struct{})
	r := &sharedReads[uuid.UUID, int]{notFound: notFound, read: func(_ context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error) {
		n := statements.Add(1)
		for _, id := range ids {
			asked.Store(id, n)
		}
		if n == 1 {
			<-release // the first statement runs until the others are queued
		}
		return map[uuid.UUID]int{known: 7}, nil
	}}
	ctx := context.Background()
	first := make(chan error, 1)
	go func() { _, err := r.get(ctx, known); first <- err }()
	require.Eventually(t, func() bool { return statements.Load() == 1 }, 5*time.Second, time.Millisecond)

	const callers = 50
	var wg sync.WaitGroup
	revs := make([]int, callers)
	errs := make([]error, callers)
	missing := uuid.New()
	for i := range callers {
		wg.Go(func() {
			id := known
			if i == 0 {
				id = missing
			}
			revs[i], errs[i] = r.get(ctx, id)
		})
	}
	cancelled, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() { _, err := r.get(cancelled, known); gone <- err }()
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.waiting[known]) == callers && len(r.waiting[missing]) == 1
	}, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-gone, context.Canceled, "a caller's cancellation returns that caller")
	close(release)
	require.NoError(t, <-first)
	wg.Wait()
	require.ErrorIs(t, errs[0], notFound)
	for i := 1; i < callers; i++ {
		require.NoError(t, errs[i])
		require.Equal(t, 7, revs[i])
	}
	require.EqualValues(t, 2, statements.Load(), "the callers queued behind the first statement shared one")
	n, _ := asked.Load(missing)
	require.EqualValues(t, 2, n)

	boom := errors.New("boom")
	failing := &sharedReads[uuid.UUID, int]{notFound: notFound,
		read: func(context.Context, []uuid.UUID) (map[uuid.UUID]int, error) { return nil, boom }}
	_, err := failing.get(ctx, known)
	require.ErrorIs(t, err, boom)
}

// TestSharedReadDeadline: a statement past its deadline (10 s; shorter
// here) answers its callers with ErrUnavailable naming the shared read,
// not with what would look like their own context's deadline.
func TestSharedReadDeadline(t *testing.T) {
	t.Parallel()
	r := &sharedReads[int, int]{timeout: 50 * time.Millisecond, notFound: errors.New("not found"),
		read: func(ctx context.Context, _ []int) (map[int]int, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}}
	mine, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := r.get(mine, 1)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, err, errSharedReadTimeout)
	require.NoError(t, mine.Err())
}
