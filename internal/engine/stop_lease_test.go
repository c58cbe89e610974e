package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

// Through Stop's grace, the executions still running keep their leases:
// the heartbeat stopped with the other loops, so a call longer than the
// lease let another process take the execution over and call again while
// this one still ran it (found by a defect hunt, two real processes on
// PostgreSQL: every call made twice).
func TestLeasesAreRenewedThroughTheGrace(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.HeartbeatInterval, o.LeaseDuration = 10*time.Second, 30*time.Second })
	release := env.held("/slow")
	id := env.start(env.workflow([]flow.Node{trig("t"), env.callNode("a", "/slow", nil)}, linkTA), nil)
	env.awaitRequests("/slow", 1)
	stopped := make(chan struct{})
	go func() { env.eng.Stop(waitLimit); close(stopped) }()
	ctx := context.Background()
	for range 6 { // a minute of the fake clock: twice the lease
		// The heartbeat registers its next beat once the last one has begun:
		// time moves only then, or a loaded machine (CI, -race) saw two
		// beats missed in a row and the lease lapse in the test alone.
		beat := env.clock.Now().Add(10 * time.Second)
		require.Eventually(t, func() bool { return env.clock.hasTimerDue(beat) }, 5*time.Second, time.Millisecond,
			"the heartbeat's next beat")
		env.clock.Advance(10 * time.Second)
		now := env.clock.Now()
		require.Eventually(t, func() bool {
			ex, err := env.raw.GetExecution(ctx, id)
			return err == nil && ex.LeaseExpiresAt != nil && ex.LeaseExpiresAt.After(now)
		}, 5*time.Second, time.Millisecond, "the lease lapsed during the grace")
	}
	release()
	<-stopped
	ex, steps := env.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Len(t, steps, 1)
}

// Once stopping, an execution still queued here (it will not start here)
// is no longer renewed: its lease lapses for another process to take it,
// instead of lasting the whole grace (found by a review).
func TestQueuedLeasesLapseThroughTheGrace(t *testing.T) {
	env := newTestEnv(t, func(o *Options) {
		o.Concurrency, o.HeartbeatInterval, o.LeaseDuration = 1, 10*time.Second, 30*time.Second
	})
	release := env.held("/slow")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/slow", nil)}, linkTA)
	running := env.start(wf, nil)
	env.awaitRequests("/slow", 1)
	queued := env.start(wf, nil) // no place for it: the only one is taken
	ctx := context.Background()
	before, err := env.raw.GetExecution(ctx, queued)
	require.NoError(t, err)
	stopped := make(chan struct{})
	go func() { env.eng.Stop(waitLimit); close(stopped) }()
	require.Eventually(t, func() bool {
		env.eng.mu.Lock()
		defer env.eng.mu.Unlock()
		return env.eng.stopping
	}, waitLimit, time.Millisecond)
	for range 6 {
		env.clock.Advance(10 * time.Second)
		now := env.clock.Now()
		require.Eventually(t, func() bool {
			ex, err := env.raw.GetExecution(ctx, running)
			return err == nil && ex.LeaseExpiresAt != nil && ex.LeaseExpiresAt.After(now)
		}, 5*time.Second, time.Millisecond, "the running execution's lease lapsed")
	}
	ex, err := env.raw.GetExecution(ctx, queued)
	require.NoError(t, err)
	require.Equal(t, before.LeaseExpiresAt, ex.LeaseExpiresAt, "the queued execution's lease was renewed")
	require.True(t, ex.LeaseExpiresAt.Before(env.clock.Now()), "lapsed: another process may take it")
	release()
	<-stopped
}
