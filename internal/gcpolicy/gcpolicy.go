// Package gcpolicy gives the Go garbage collector a minimum headroom.
//
// With GOGC=100 the heap may grow to twice what is live before the next
// collection. Flowker's live heap under load is small (tens of MiB) while
// it allocates fast (the database driver's buffers, JSON), so it collected
// several times a second and the collector was about a fifth of its CPU.
// A fixed higher GOGC would multiply the memory of a large live heap too
// (10,000 executions in flight). Instead, after every collection the heap
// may grow by at least the headroom: GOGC is set to headroom ÷ live heap,
// never below 100 (the default's behaviour with a large live heap) nor
// above maxPercent. Memory grows by at most the headroom, paid for once.
package gcpolicy

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

const (
	minPercent = 100  // GOGC's default: never collect more often than it would
	maxPercent = 2000 // a near-empty heap need not wait for 20× itself
)

const liveMetric = "/gc/heap/live:bytes"

// PercentFor is the GOGC that lets a heap of live bytes grow by at least
// headroom bytes before the next collection.
func PercentFor(live, headroom uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := headroom * 100 / live
	return int(min(max(p, minPercent), maxPercent))
}

// Start keeps GOGC at PercentFor(live heap, headroom) from now on, adjusted
// after each collection (on the runtime's cleanup goroutine), until stop is
// called; stop restores the GOGC Start found. Call it once, and only when
// neither GOGC nor a headroom of 0 says to leave the runtime alone.
func Start(headroom uint64) (stop func()) {
	t := &tuner{headroom: headroom, sample: []metrics.Sample{{Name: liveMetric}}}
	t.initial = debug.SetGCPercent(minPercent)
	t.percent = minPercent
	t.adjust()
	t.arm()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.stopped.Store(true)
			t.mu.Lock()
			defer t.mu.Unlock()
			debug.SetGCPercent(t.initial)
		})
	}
}

type tuner struct {
	headroom uint64
	initial  int
	stopped  atomic.Bool

	mu      sync.Mutex // the cleanup goroutine and stop
	percent int
	sample  []metrics.Sample
}

// sentinel is garbage from birth: its cleanup runs after the collection
// that finds it, and arms the next one. Large enough to avoid the tiny
// allocator, whose blocks are freed together.
type sentinel struct{ _ [64]byte }

func (t *tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *tuner) {
		if t.stopped.Load() {
			return
		}
		t.adjust()
		t.arm()
	}, t)
}

// adjust sets GOGC for the live heap the last collection measured. Setting
// it costs a brief stop of the world, so small changes (under a tenth) are
// left alone.
func (t *tuner) adjust() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := PercentFor(t.sample[0].Value.Uint64(), t.headroom)
	if d := p - t.percent; d*10 > t.percent || -d*10 > t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
}
