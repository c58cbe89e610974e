package main

import (
	"database/sql"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/store/storetest"
)

// TestShutdownGraceKeepsLeases: SIGTERM lets running executions finish for
// SHUTDOWN_TIMEOUT (docs/engine.md, "Shutdown"), and their leases are
// renewed meanwhile. The engine stopped its heartbeat as soon as Stop
// began: an execution in a provider call longer than its lease was
// rescued by another process on the same PostgreSQL, which called the
// provider again while the first call was in flight (found by a defect
// hunt: every call made twice).
func TestShutdownGraceKeepsLeases(t *testing.T) {
	url := storetest.PostgresURL(t)
	const n = 8
	fake := newCrashFake(t, nil)
	fake.delay.Store(int64(7 * time.Second)) // longer than three leases
	common := []string{"DATABASE_URL=" + url, testSecretKey, "SSRF_ALLOW_PRIVATE=true", "LOG_LEVEL=warn",
		"ENGINE_LEASE_DURATION=2s"}
	// A gives its running executions 20 s to finish at shutdown: far more
	// than the 7 s call they are in.
	a := start(t, append(common, "SHUTDOWN_TIMEOUT=20s")...)
	a.waitReady()
	b := start(t, common...)
	b.waitReady()
	wfID := a.callWorkflow(fake.srv.URL, "a")

	ids := map[string]bool{}
	for range n {
		code, _, body := a.send("POST", "/v1/workflows/"+wfID+"/executions",
			map[string]any{"inputData": map[string]any{"i": 1}}, "Idempotency-Key", uuid.NewString())
		require.Equal(t, http.StatusCreated, code, "%v", body)
		ids[body["executionId"].(string)] = true
	}
	a.poll("every execution's call to reach the provider", func() bool { return fake.total.Load() == n })

	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	signalled := time.Now()
	code := a.wait(30 * time.Second)
	exited := time.Since(signalled)
	require.Equal(t, 0, code)

	st := crashStore{open: func() (*sql.DB, error) { return sql.Open("pgx", url) }}
	var after crashDB
	waitFor(t, "every execution to finish", func() bool {
		after = readCrashDB(t, st)
		return after.terminal() == n
	})
	for id := range ids {
		require.Equal(t, "completed", after.byID[id].status, "execution %s", id)
	}
	perKey := map[string]int{}
	for _, c := range fake.snapshot() {
		perKey[c.key]++
	}
	for k, v := range perKey {
		require.Equal(t, 1, v, "Idempotency-Key %s was called %d times: A, still running it within its "+
			"shutdown grace (exited %s after SIGTERM, 0), lost its lease to B, which called again", k, v,
			exited.Round(time.Millisecond))
	}
}
