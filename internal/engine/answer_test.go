package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
	"flowker/internal/store/faultstore"
)

// answer waits for what Engine.Wait hands a synchronous caller.
func answer(t *testing.T, done <-chan *store.ExecutionResults) *store.ExecutionResults {
	t.Helper()
	select {
	case r, ok := <-done:
		require.True(t, ok, "closed without an answer")
		return r
	case <-time.After(waitLimit):
		t.Fatal("the execution did not finish")
		return nil
	}
}

// envs are the engine's harnesses on each store.
var envs = []struct {
	name string
	open func(*testing.T, func(*Options)) *testEnv
}{{"sqlite", newTestEnv}, {"postgres", newPostgresEnv}}

// A synchronous caller's answer: the terminal write reads the execution
// and its steps back in its transaction (on PostgreSQL with its COMMIT,
// on SQLite from the writer's cache) and hands them over, exactly what a
// read after it finds, also when that write failed once and was written
// again.
func TestWaitersGetTheTerminalWritesReadBack(t *testing.T) {
	for _, s := range envs {
		t.Run(s.name, func(t *testing.T) {
			for _, failOnce := range []bool{false, true} {
				env := s.open(t, nil)
				wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil), env.callNode("b", "/b", nil)},
					linkTA, link("a", "b"))
				ex := env.insert(wf, map[string]any{"amount": "125.50"})
				done, stop := env.eng.Wait(ex.ID)
				defer stop()
				if failOnce { // the read fails the terminal write's first attempt
					env.st.Fail("ReadBackExecution", faultstore.Once, errDown)
				}
				env.eng.DispatchNew(ex, nil)
				if failOnce {
					env.clock.waitTimers(t, idleTimers+1, "the save backoff")
					env.clock.Advance(time.Second)
				}
				got := answer(t, done)
				stored, steps, err := env.raw.ExecutionWithSteps(context.Background(), ex.ID)
				require.NoError(t, err)
				require.Equal(t, flow.ExecCompleted, stored.Status, stored.ErrorMessage)
				require.Len(t, steps, 2)
				require.Equal(t, &store.ExecutionResults{Execution: stored, Steps: steps}, got)
			}
		})
	}
}

// A terminal write the store refuses is written again without what it
// refused, and without a read back: the caller reads what was stored.
func TestRefusedTerminalWriteHandsNoAnswer(t *testing.T) {
	for _, s := range envs {
		t.Run(s.name, func(t *testing.T) {
			env := s.open(t, nil)
			wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/a", nil)}, linkTA)
			ex := env.insert(wf, nil)
			done, stop := env.eng.Wait(ex.ID)
			defer stop()
			env.st.Fail("SaveProgress", faultstore.Once, store.Unstorable(nil, "step output contains a NUL character"))
			env.eng.DispatchNew(ex, nil)
			require.Nil(t, answer(t, done))
			stored, _ := env.await(ex.ID)
			require.Equal(t, flow.ExecFailed, stored.Status)
		})
	}
}
