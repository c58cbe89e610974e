package engine

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store/postgres"
	"flowker/internal/store/storetest"
)

// rowHolder is another session's transaction holding an execution's row:
// another replica's cancel waiting for the audit chain's lock, say, or an
// operator's statement.
type rowHolder struct {
	t   *testing.T
	db  *sql.DB
	tx  *sql.Tx
	pid int
}

func holdRow(t *testing.T, url string, id uuid.UUID) *rowHolder {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	h := &rowHolder{t: t, db: db, tx: tx}
	t.Cleanup(func() { _ = tx.Rollback() })
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&h.pid))
	_, err = tx.ExecContext(ctx, `UPDATE executions SET cancel_requested = cancel_requested WHERE id = $1`, id.String())
	require.NoError(t, err)
	return h
}

// leaseWaiters counts the heartbeat statements waiting for the row it holds.
func (h *rowHolder) leaseWaiters() int {
	var n int
	require.NoError(h.t, h.db.QueryRowContext(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE $1 = ANY(pg_blocking_pids(pid)) AND query LIKE '%lease_expires_at%'`, h.pid).Scan(&n))
	return n
}

// awaitLeaseWaiter waits, up to limit, for a heartbeat statement waiting
// for the row; false if none came.
func (h *rowHolder) awaitLeaseWaiter(limit time.Duration) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if h.leaseWaiters() > 0 {
			return true
		}
	}
	return false
}

func leaseOf(t *testing.T, env *testEnv, id uuid.UUID) time.Time {
	t.Helper()
	ex, err := env.raw.GetExecution(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, ex.LeaseExpiresAt)
	return *ex.LeaseExpiresAt
}

// A healthy process keeps the lease of an execution it is working on while
// another session holds the execution's row past the lease's end. The
// heartbeat used to skip every row some transaction held (ExtendLeases'
// FOR UPDATE SKIP LOCKED, on the assumption that "that write extends their
// lease itself"); the holder — here another session's statement, in the
// hunt another replica's cancel waiting for the audit chain's lock —
// extended nothing, the lease lapsed, and once the holder ended, the other
// replica's rescue claimed the execution and called the provider again for
// the step this process was completing (found by a defect hunt).
func TestLeaseKeptWhileAnotherSessionHoldsTheRow(t *testing.T) {
	url := storetest.PostgresURL(t)
	rawA, err := postgres.Open(context.Background(), url, 8)
	require.NoError(t, err)
	rawA.UseAuditKey(storetest.AuditKey)
	// A beat waits for a held row until the next one is due, in real time:
	// 1 s, long enough for the test to see it waiting.
	const lease = 3 * time.Second
	a := startEnv(t, rawA, func(o *Options) { o.Owner, o.LeaseDuration, o.HeartbeatInterval = "proc-a", lease, 0 })
	rawB, err := postgres.Open(context.Background(), url, 8)
	require.NoError(t, err)
	rawB.UseAuditKey(storetest.AuditKey)
	b := startEnv(t, rawB, func(o *Options) { o.Owner, o.LeaseDuration, o.Clock = "proc-b", lease, a.clock })

	release := a.held("/hold")
	id := a.start(a.workflow([]flow.Node{trig("t"), a.callNode("a", "/hold", nil)}, linkTA), nil)
	a.awaitRequests("/hold", 1) // A's call is in flight
	lapses := leaseOf(t, a, id)

	// The row is held across three beats, past the lease's end.
	holder := holdRow(t, url, id)
	every := a.eng.opts.HeartbeatInterval
	var waited bool
	for beat := range 3 {
		a.clock.Advance(every)
		next := a.clock.Now().Add(every)
		require.Eventually(t, func() bool { return a.clock.hasTimerDue(next) }, waitLimit, time.Millisecond,
			"heartbeat %d did not begin: the one before it never ended", beat+1)
		if beat == 2 {
			waited = holder.awaitLeaseWaiter(every / 2)
		}
	}
	now := a.clock.Now()
	require.True(t, now.After(lapses), "the test holds the row past the lease's end")
	beatUntil := a.eng.LeaseUntil(a.eng.now())
	require.NoError(t, holder.tx.Rollback()) // the holder ends, having extended nothing
	if waited {
		require.Eventually(t, func() bool { return leaseOf(t, a, id).Equal(beatUntil) }, waitLimit, time.Millisecond,
			"the beat waiting for the row extended the lease once it was free")
	}

	// B's rescue pass (engine.rescue), once the lease would have lapsed.
	a.clock.Advance(every / 2)
	now = b.eng.now()
	claimed, err := rawB.ClaimExecutions(context.Background(), b.eng.Owner(), now, b.eng.LeaseUntil(now), 10, false)
	require.NoError(t, err)
	for _, c := range claimed {
		b.eng.inFlight.Add(1)
		b.eng.Dispatch(context.Background(), c)
	}
	require.Eventually(t, func() bool { return len(a.fake.RequestsTo("/hold")) == 1+len(claimed) }, waitLimit, time.Millisecond)
	release()
	ex, _ := a.await(id)
	require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	require.Empty(t, claimed, "another process claimed the execution this one was working on (lease lapsed while "+
		"another session held the row; heartbeat waited for it: %v)", waited)
	require.Equal(t, 1, len(a.fake.RequestsTo("/hold")),
		"the provider was called again for a step process A was completing, its heartbeat beating")
	require.Equal(t, "proc-a", ex.LeaseOwner)
}

// While a row stays held, the heartbeat waits for it only until its next
// beat is due: the other executions' leases are extended at once, and the
// next beat comes on time.
func TestHeartbeatWaitsForAHeldRowOnlyUntilTheNextBeat(t *testing.T) {
	url := storetest.PostgresURL(t)
	raw, err := postgres.Open(context.Background(), url, 8)
	require.NoError(t, err)
	raw.UseAuditKey(storetest.AuditKey)
	env := startEnv(t, raw, func(o *Options) { o.LeaseDuration, o.HeartbeatInterval = 3*time.Second, 0 })
	release := env.held("/hold")
	wf := env.workflow([]flow.Node{trig("t"), env.callNode("a", "/hold", nil)}, linkTA)
	held, free := env.start(wf, nil), env.start(wf, nil)
	env.awaitRequests("/hold", 2)
	heldLease := leaseOf(t, env, held)

	holder := holdRow(t, url, held)
	every := env.eng.opts.HeartbeatInterval
	for range 2 {
		env.clock.Advance(every)
		until := env.eng.LeaseUntil(env.eng.now())
		began := time.Now()
		require.Eventually(t, func() bool { return leaseOf(t, env, free).Equal(until) }, waitLimit, time.Millisecond,
			"the free execution's lease was not extended while another row was held")
		require.True(t, holder.awaitLeaseWaiter(every), "the beat did not wait for the held row")
		require.Eventually(t, func() bool { return holder.leaseWaiters() == 0 }, waitLimit, 5*time.Millisecond)
		require.Less(t, time.Since(began), every+2*time.Second, "the beat waited past the next one's time")
		require.Equal(t, heldLease, leaseOf(t, env, held), "held throughout: not extended")
	}
	require.NoError(t, holder.tx.Rollback())
	release()
	for _, id := range []uuid.UUID{held, free} {
		ex, _ := env.await(id)
		require.Equal(t, flow.ExecCompleted, ex.Status, ex.ErrorMessage)
	}
}
