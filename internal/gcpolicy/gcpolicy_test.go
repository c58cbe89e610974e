package gcpolicy_test

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/gcpolicy"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, 64 * mib, 2000},
		{1 * mib, 64 * mib, 2000},  // capped
		{16 * mib, 64 * mib, 400},  // may grow by 64 MiB
		{64 * mib, 64 * mib, 100},  // the default's doubling is the headroom
		{512 * mib, 64 * mib, 100}, // never below the default
	} {
		require.Equal(t, c.want, gcpolicy.PercentFor(c.live, c.headroom), "live %d", c.live)
	}
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestStartFollowsTheLiveHeap: after collections, GOGC gives a small live
// heap the headroom, a large one the default, and stop restores it.
func TestStartFollowsTheLiveHeap(t *testing.T) {
	before := gogc()
	stop := gcpolicy.Start(256 << 20)
	defer stop()
	collected := func(cond func(int) bool) func() bool {
		return func() bool { runtime.GC(); return cond(gogc()) }
	}
	require.Eventually(t, collected(func(p int) bool { return p > 400 }), 5*time.Second, 20*time.Millisecond,
		"a small live heap gets the headroom (GOGC %d)", gogc())

	held := make([][]byte, 0, 64)
	for range 64 {
		held = append(held, make([]byte, 8<<20)) // 512 MiB live
	}
	require.Eventually(t, collected(func(p int) bool { return p == 100 }), 5*time.Second, 20*time.Millisecond,
		"a large live heap gets the default (GOGC %d)", gogc())
	runtime.KeepAlive(held)

	stop()
	require.Equal(t, before, gogc())
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, before, gogc(), "nothing changes it after stop")
}
