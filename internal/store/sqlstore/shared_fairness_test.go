package sqlstore

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSharedReadsFreshness: every answer comes from a statement that
// began after its caller asked. Each statement's value is its start
// number; a caller notes the number of statements begun before it asks.
func TestSharedReadsFreshness(t *testing.T) {
	t.Parallel()
	var begun atomic.Int64
	r := &sharedReads[int, int64]{notFound: errors.New("nf"),
		read: func(_ context.Context, keys []int) (map[int]int64, error) {
			n := begun.Add(1)
			if n%3 == 0 {
				runtime.Gosched()
			}
			m := make(map[int]int64, len(keys))
			for _, k := range keys {
				m[k] = n
			}
			return m, nil
		}}
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := range 16 {
		wg.Go(func() {
			for i := range 400 {
				before := begun.Load()
				got, err := r.get(context.Background(), (g+i)%5)
				if err != nil || got <= before {
					bad.Add(1)
				}
				if i%50 == 0 {
					time.Sleep(time.Millisecond) // let the loop exit and restart
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, bad.Load(), "answers from statements begun before the caller asked")
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(t, r.waiting)
}

// TestSharedReadsFIFO: with more than maxSharedKeys keys waiting, keys
// are read in the order asked: a key asked first is not passed over round
// after round by keys asked after it (a flood of distinct webhook paths
// must not delay a real route's lookup without bound).
func TestSharedReadsFIFO(t *testing.T) {
	t.Parallel()
	const trials = 5
	worst := 0
	for trial := range trials {
		var round atomic.Int32
		servedIn := map[int]int32{}
		var mu sync.Mutex
		gate := make(chan struct{})
		next := 1000 * (trial + 1)
		var wg sync.WaitGroup
		r := &sharedReads[int, int]{notFound: errors.New("nf")}
		flood := func(n int) {
			for range n {
				next++
				k := next
				wg.Go(func() { _, _ = r.get(context.Background(), k) })
			}
		}
		r.read = func(_ context.Context, keys []int) (map[int]int, error) {
			n := round.Add(1)
			mu.Lock()
			for _, k := range keys {
				servedIn[k] = n
			}
			mu.Unlock()
			if n == 1 {
				<-gate
			} else if n < 12 {
				flood(100) // later keys keep arriving
				require.Eventually(t, func() bool {
					r.mu.Lock()
					defer r.mu.Unlock()
					return len(r.waiting) >= 100
				}, 5*time.Second, time.Millisecond)
			}
			m := map[int]int{}
			for _, k := range keys {
				m[k] = k
			}
			return m, nil
		}
		wg.Go(func() { _, _ = r.get(context.Background(), 0) })
		require.Eventually(t, func() bool { return round.Load() == 1 }, 5*time.Second, time.Millisecond)
		const target = -1
		wg.Go(func() { _, _ = r.get(context.Background(), target) }) // asked first
		require.Eventually(t, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.waiting) == 1
		}, 5*time.Second, time.Millisecond)
		flood(200) // asked after the target
		require.Eventually(t, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.waiting) == 201
		}, 5*time.Second, time.Millisecond)
		close(gate)
		wg.Wait()
		mu.Lock()
		worst = max(worst, int(servedIn[target]))
		mu.Unlock()
	}
	require.Equal(t, 2, worst,
		"the key asked first, with 200 asked after it, must be read by the next statement; it waited until statement %d", worst)
}

// TestSharedReadPanic: a panic in the shared read, on the reader
// goroutine where no caller could recover it, is its callers' error and
// does not end the process; later reads work.
func TestSharedReadPanic(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	r := &sharedReads[int, int]{notFound: errors.New("not found"),
		read: func(context.Context, []int) (map[int]int, error) {
			if calls.Add(1) == 1 {
				panic("boom in read")
			}
			return map[int]int{1: 7}, nil
		}}
	_, err := r.get(context.Background(), 1)
	require.ErrorContains(t, err, "panic in a shared read: boom in read")
	v, err := r.get(context.Background(), 1)
	require.NoError(t, err, "the reader goroutine survived and reads again")
	require.Equal(t, 7, v)
}

// TestSharedReadsGoneCallersLeave: a caller whose context ends takes its
// key back: keys nobody waits for are not read, taking the slots of live
// callers, and the queue does not grow under overload.
func TestSharedReadsGoneCallersLeave(t *testing.T) {
	t.Parallel()
	var statements atomic.Int32
	gate := make(chan struct{})
	r := &sharedReads[int, int]{notFound: errors.New("nf"), read: func(context.Context, []int) (map[int]int, error) {
		if statements.Add(1) == 1 {
			<-gate
		}
		return map[int]int{}, nil
	}}
	first := make(chan error, 1)
	go func() { _, err := r.get(context.Background(), 0); first <- err }()
	require.Eventually(t, func() bool { return statements.Load() == 1 }, 5*time.Second, time.Millisecond)
	var wg sync.WaitGroup
	for k := 1; k <= 640; k++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		wg.Go(func() { defer cancel(); _, _ = r.get(ctx, k) })
	}
	wg.Wait() // every one of them gave up
	r.mu.Lock()
	queued := len(r.waiting)
	r.mu.Unlock()
	close(gate)
	require.Error(t, <-first, "key 0 has no row")
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return !r.reading
	}, 5*time.Second, time.Millisecond)
	t.Logf("queued after every caller gave up: %d keys; statements run: %d", queued, statements.Load())
	require.Zero(t, queued, "keys of callers that gave up are still queued")
	require.EqualValues(t, 1, statements.Load(), "statements were run for callers that had all gone")
}
