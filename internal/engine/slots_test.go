package engine

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/plan"
)

func TestSlotsGrantInOrderAndPassOn(t *testing.T) {
	s := newTargetSlots(2)
	var order []string
	grant := func(name string) func() { return func() { order = append(order, name) } }
	a, b := s.take("x", grant("a")), s.take("x", grant("b"))
	require.True(t, s.granted(a))
	require.True(t, s.granted(b))
	c, d, e := s.take("x", grant("c")), s.take("x", grant("d")), s.take("x", grant("e"))
	require.False(t, s.granted(c))
	other := s.take("y", grant("other")) // another target has its own slots
	require.True(t, s.granted(other))

	s.release(d) // withdrawn while queued: never granted
	s.release(a)
	require.True(t, s.granted(c))
	require.Equal(t, 2, s.inFlight("x"))
	s.release(b)
	require.True(t, s.granted(e))
	require.Equal(t, []string{"c", "e"}, order)
	s.release(b) // twice: nothing
	require.Equal(t, 2, s.inFlight("x"))
	s.release(c)
	s.release(e)
	s.release(other)
	require.Empty(t, s.targets, "idle targets are forgotten")
}

// The limit holds under concurrency, and every ticket is granted once.
func TestSlotsLimitUnderConcurrency(t *testing.T) {
	const limit, callers = 3, 200
	s := newTargetSlots(limit)
	var busy, peak atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			granted := make(chan struct{}, 1)
			tk := s.take("x", func() { granted <- struct{}{} })
			if !s.granted(tk) {
				<-granted
			}
			n := busy.Add(1)
			for p := peak.Load(); n > p; p = peak.Load() {
				if peak.CompareAndSwap(p, n) {
					break
				}
			}
			busy.Add(-1)
			s.release(tk)
		})
	}
	wg.Wait()
	require.LessOrEqual(t, peak.Load(), int64(limit))
	require.Empty(t, s.targets)
}

func TestTargetKeyIsTheBreakerKey(t *testing.T) {
	node := func(data map[string]any) *plan.Node {
		return &plan.Node{Node: flow.Node{ID: "a", Type: flow.NodeExecutor, Data: data}}
	}
	id := "6F9619FF-8B86-D011-B42D-00C04FC964FF"
	require.Equal(t, "provider_config:6f9619ff-8b86-d011-b42d-00c04fc964ff", targetKey(node(map[string]any{"providerConfigId": id})))
	require.Equal(t, "executor_config:6f9619ff-8b86-d011-b42d-00c04fc964ff", targetKey(node(map[string]any{"executorConfigId": id})))
	require.Equal(t, "provider_config:not-a-uuid", targetKey(node(map[string]any{"providerConfigId": "not-a-uuid"})))
}
