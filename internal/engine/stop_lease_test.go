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
