package postgres_test

import (
	"context"
	"database/sql"
	neturl "net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store/storetest"
)

// holdRow takes id's row in a transaction of its own on url (another
// replica's cancel waiting for the audit chain's lock, an operator's
// statement) and returns it, with a count of the sessions waiting for it
// on a lease statement.
func holdRow(t *testing.T, url string, id uuid.UUID) (holder *sql.Tx, waiters func() int, raw *sql.DB) {
	t.Helper()
	ctx := context.Background()
	raw, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	holder, err = raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = holder.Rollback() })
	var holderPID int
	require.NoError(t, holder.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&holderPID))
	_, err = holder.ExecContext(ctx, `UPDATE executions SET cancel_requested = cancel_requested WHERE id = $1`, id.String())
	require.NoError(t, err)
	waiters = func() int {
		var n int
		require.NoError(t, raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE $1 = ANY(pg_blocking_pids(pid)) AND query LIKE '%lease_expires_at%'`, holderPID).Scan(&n))
		return n
	}
	return holder, waiters, raw
}

// TestStalledHeartbeatLeavesTheRowToRescue: a process that stalls
// (SIGSTOP, a long VM pause, a network partition) while its heartbeat
// waits for a row another session holds does not keep that row. Once the
// holder ends, the server grants the wait, extends the lease and commits
// on its own: the process's lease then lapses at that extension's end
// like any other, and another replica's rescue takes the execution.
//
// The heartbeat first waited for a held row in an explicit
// transaction (BEGIN; set_config lock_timeout; UPDATE; COMMIT from the
// client). lock_timeout bounds only the wait: the UPDATE granted, the
// session sat idle in transaction, holding the row, for as long as the
// stall lasted (no COMMIT ever came), and every rescuer's claim (FOR
// UPDATE SKIP LOCKED) skipped the row: the execution was neither rescued
// nor cancellable until the stalled process came back (found by a
// review). Now the lock_timeout and the UPDATE are one simple-protocol
// message, one implicit transaction the server commits without the
// client (sqlstore.DB.extendHeldLease).
//
// The proxy stands for process A: Freeze is its stall.
func TestStalledHeartbeatLeavesTheRowToRescue(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	u, err := neturl.Parse(url)
	require.NoError(t, err)
	p := storetest.StartProxy(t, u.Host)
	u.Host = p.Addr
	a := openStore(t, u.String()) // process A's pool, through the proxy
	b := openStore(t, url)        // process B's

	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	ex := storetest.Execution(uuid.New(), flow.ExecRunning, now, "proc-a", now.Add(time.Minute))
	require.NoError(t, b.CreateExecution(ctx, ex))
	holder, waiters, raw := holdRow(t, url, ex.ID)

	// A's heartbeat waits for the row (deadline: the next beat).
	until := now.Add(3 * time.Minute)
	beat := make(chan error, 1)
	go func() {
		bounded, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := a.ExtendLeases(bounded, "proc-a", []uuid.UUID{ex.ID}, until)
		beat <- err
	}()
	require.Eventually(t, func() bool { return waiters() == 1 }, 3*time.Second, 5*time.Millisecond,
		"the heartbeat did not wait for the held row")

	p.Freeze()                            // process A stalls: it sends and reads nothing more
	require.NoError(t, holder.Rollback()) // the holder ends, having changed nothing
	require.Eventually(t, func() bool { return waiters() == 0 }, 5*time.Second, 5*time.Millisecond)

	// Past A's last extension (until), B's rescue passes, for a few seconds
	// of A's stall: the lease of a stalled process is for others to take.
	later := until.Add(time.Minute)
	var claimed []uuid.UUID
	for end := time.Now().Add(4 * time.Second); len(claimed) == 0 && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		claimed, err = b.ClaimExecutions(ctx, "proc-b", later, later.Add(time.Minute), 10, false)
		require.NoError(t, err)
	}
	var idleInTx int
	require.NoError(t, raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE state = 'idle in transaction' AND query LIKE '%lease_expires_at%'`).Scan(&idleInTx))
	p.Cut()
	select {
	case err := <-beat: // whatever it is: the connection was cut
		t.Logf("heartbeat after its connection was cut: %v", err)
	case <-time.After(10 * time.Second):
		t.Error("the heartbeat did not return once its connection was cut")
	}
	require.Equal(t, []uuid.UUID{ex.ID}, claimed,
		"the lease of a stalled process lapsed, but its heartbeat (%d session(s) idle in transaction after "+
			"its UPDATE was granted) holds the row: every rescue skips it for as long as the stall lasts", idleInTx)
	require.Zero(t, idleInTx, "a heartbeat's session holds a transaction open without its client")
	got, err := b.GetExecution(ctx, ex.ID)
	require.NoError(t, err)
	require.Equal(t, "proc-b", got.LeaseOwner)
}

// TestHeldLeaseOfAnOwnerWithQuotes: the wait for a held row inlines the
// owner in its statement (no bind parameters: TestStalledHeartbeatLeaves…);
// quotes and backslashes in it are data, matched as they are.
func TestHeldLeaseOfAnOwnerWithQuotes(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	s := openStore(t, url)
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	// extendHeld extends id's lease as owner while another session holds
	// the row, which ends once the heartbeat waits for it.
	extendHeld := func(id uuid.UUID, owner string, until time.Time) int {
		holder, waiters, _ := holdRow(t, url, id)
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() {
			bounded, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			n, err := s.ExtendLeases(bounded, owner, []uuid.UUID{id}, until)
			done <- result{n, err}
		}()
		require.Eventually(t, func() bool { return waiters() == 1 }, 3*time.Second, 5*time.Millisecond,
			"the heartbeat did not wait for the held row")
		require.NoError(t, holder.Rollback())
		r := <-done
		require.NoError(t, r.err, owner)
		return r.n
	}
	for _, owner := range []string{`it's`, `back\slash`, `\'; UPDATE executions SET lease_owner = 'x' --`, `E'\\''`, "ünï'cødé\\"} {
		ex := storetest.Execution(uuid.New(), flow.ExecRunning, now, owner, now.Add(time.Minute))
		require.NoError(t, s.CreateExecution(ctx, ex))
		require.Equal(t, 1, extendHeld(ex.ID, owner, now.Add(3*time.Minute)),
			"the held lease of owner %q was not extended", owner)
		// Another owner's lease is not extended through a quote (its wait's
		// statement matches no row, so it does not even wait).
		for _, other := range []string{owner + "'", owner + `\`, "'" + owner} {
			holder, _, _ := holdRow(t, url, ex.ID)
			bounded, cancel := context.WithTimeout(ctx, 5*time.Second)
			n, err := s.ExtendLeases(bounded, other, []uuid.UUID{ex.ID}, now.Add(4*time.Minute))
			cancel()
			require.NoError(t, err)
			require.Zero(t, n, other)
			require.NoError(t, holder.Rollback())
		}
		got, err := s.GetExecution(ctx, ex.ID)
		require.NoError(t, err)
		require.Equal(t, owner, got.LeaseOwner)
		require.True(t, got.LeaseExpiresAt.Equal(now.Add(3*time.Minute)), "%s", got.LeaseExpiresAt)
	}
}
