package main

// One owner per lease: a second process on one SQLite file, or with the
// ENGINE_WORKER_ID of a live process on PostgreSQL, refuses to start before
// it touches any execution; and no process claims work before it can serve.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
	"flowker/internal/store/storetest"
)

// heldProvider is a fake provider whose /a calls wait until release.
type heldProvider struct {
	*providertest.Server
	release func()
}

func newHeldProvider(t *testing.T) heldProvider {
	fake := providertest.New(t)
	ch := make(chan struct{})
	fake.Hold("/a", ch)
	var once sync.Once
	release := func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release) // registered after New: runs before the server closes
	return heldProvider{Server: fake, release: release}
}

// TestSQLiteSecondProcessRefused: SQLite is one process per file. A second
// process on the file of a live one exits 1 with one line naming the file
// and the holder's pid, before recovery could run the first one's
// executions again; the first keeps serving, and its execution runs once.
func TestSQLiteSecondProcessRefused(t *testing.T) {
	t.Parallel()
	fake := newHeldProvider(t)
	path := filepath.Join(t.TempDir(), "flowker.db")
	env := []string{"DATABASE_URL=sqlite:" + path, "SSRF_ALLOW_PRIVATE=true"}
	a := start(t, env...)
	a.waitReady()
	execID := a.startExecution(a.callWorkflow(fake.URL, "a", "b"))
	a.poll("the first call to reach the provider", func() bool { return len(fake.RequestsTo("/a")) == 1 })

	b := start(t, env...)
	require.Equal(t, 1, b.wait(deadline))
	lines := b.logLines()
	require.Len(t, lines, 1, "one line: %q", b.stderr.String())
	require.Contains(t, lines[0], fmt.Sprintf(
		`"message":"the SQLite database %s is in use by another Flowker process (pid %d)"`, path, a.cmd.Process.Pid))
	require.Contains(t, lines[0], `"level":"error"`)
	requireNoPanic(t, b.stderr.String())

	fake.release()
	a.poll("the execution to complete", func() bool {
		_, ex := a.mustGet("/v1/executions/" + execID)
		return ex["status"] == "completed"
	})
	require.Len(t, fake.RequestsTo("/a"), 1, "the refused process ran nothing")
	code, _ := a.mustGet("/health/ready")
	require.Equal(t, http.StatusOK, code, "the first process keeps serving")
}

// TestWorkerIDInUse: on PostgreSQL, a second process with the
// ENGINE_WORKER_ID of a live one exits 1 (its recovery would take back
// every lease of that id at once) and touches nothing; other ids start; the
// id is free again once its holder is killed, and the next start with it
// resumes the work at once.
func TestWorkerIDInUse(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t) // skips without FLOWKER_TEST_DATABASE_URL
	fake := newHeldProvider(t)
	env := []string{"DATABASE_URL=" + url, testSecretKey, "SSRF_ALLOW_PRIVATE=true"}
	a := start(t, append(env, "ENGINE_WORKER_ID=worker-0")...)
	a.waitReady()
	execID := a.startExecution(a.callWorkflow(fake.URL, "a", "b"))
	a.poll("the first call to reach the provider", func() bool { return len(fake.RequestsTo("/a")) == 1 })
	before := readLeases(t, func() (*sql.DB, error) { return sql.Open("pgx", url) })

	b := start(t, append(env, "ENGINE_WORKER_ID=worker-0")...)
	require.Equal(t, 1, b.wait(deadline+ownerLockWait))
	lines := b.logLines()
	require.Len(t, lines, 1, "one line: %q", b.stderr.String())
	require.Contains(t, lines[0], `"message":"ENGINE_WORKER_ID: worker id \"worker-0\" is in use by `+
		`another Flowker process (flowker host=`)
	require.Contains(t, lines[0], fmt.Sprintf(" pid=%d) on this database", a.cmd.Process.Pid))
	requireNoPanic(t, b.stderr.String())
	require.Equal(t, before, readLeases(t, func() (*sql.DB, error) { return sql.Open("pgx", url) }),
		"the refused process touched no lease")
	require.Len(t, fake.RequestsTo("/a"), 1, "the refused process ran nothing")

	c := start(t, append(env, "ENGINE_WORKER_ID=worker-1")...)
	c.waitReady() // another id: fine

	// kill -9 frees the id (PostgreSQL ends the dead process's session);
	// the next start with it takes its execution back at once.
	require.NoError(t, a.cmd.Process.Kill())
	a.wait(deadline)
	d := start(t, append(env, "ENGINE_WORKER_ID=worker-0")...)
	d.waitReady()
	fake.release()
	d.poll("the execution to complete", func() bool {
		_, ex := d.mustGet("/v1/executions/" + execID)
		return ex["status"] == "completed"
	})
	require.Len(t, fake.RequestsTo("/b"), 1)
}

// TestBindFailureClaimsNothing: a process that cannot listen exits 1
// without claiming anything: the engine (whose recovery claims executions)
// starts only once the port is bound. The executions are those of a
// process killed mid-flight, their leases lapsed: exactly what a starting
// process's recovery takes; a start that can listen then completes them.
func TestBindFailureClaimsNothing(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "flowker.db")
		bindFailureClaimsNothing(t, []string{"DATABASE_URL=sqlite:" + path}, func() (*sql.DB, error) {
			return sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := storetest.PostgresURL(t)
		bindFailureClaimsNothing(t, []string{"DATABASE_URL=" + url, testSecretKey},
			func() (*sql.DB, error) { return sql.Open("pgx", url) })
	})
}

func bindFailureClaimsNothing(t *testing.T, env []string, open func() (*sql.DB, error)) {
	fake := newHeldProvider(t)
	env = append(env, "SSRF_ALLOW_PRIVATE=true", "ENGINE_LEASE_DURATION=1s")
	a := start(t, env...)
	a.waitReady()
	wfID := a.callWorkflow(fake.URL, "a", "b")
	const n = 3
	for range n {
		a.startExecution(wfID)
	}
	a.poll("every first call to reach the provider", func() bool { return len(fake.RequestsTo("/a")) == n })
	require.NoError(t, a.cmd.Process.Kill())
	a.wait(deadline)
	time.Sleep(1500 * time.Millisecond) // the leases (1s, renewed every 1/3 s) lapse
	before := readLeases(t, open)
	require.Len(t, before, n)

	var lc net.ListenConfig
	busy, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := start(t, append(env, "SERVER_ADDRESS="+busy.Addr().String())...)
	require.Equal(t, 1, b.wait(deadline))
	require.Contains(t, b.stderr.String(), "cannot listen")
	require.NoError(t, busy.Close())
	require.Equal(t, before, readLeases(t, open), "the process that could not listen claimed nothing")
	require.Len(t, fake.RequestsTo("/a"), n, "and ran nothing")

	fake.release()
	c := start(t, env...)
	c.waitReady()
	c.poll("the executions to complete", func() bool {
		for _, l := range readLeases(t, open) {
			if l.status != "completed" {
				return false
			}
		}
		return true
	})
	require.Len(t, fake.RequestsTo("/b"), n)
}

// TestServeFailureHandsExecutionsBack: when serving stops on its own once
// the engine runs, the engine is stopped — its executions handed back,
// leases released — before the exit 1, rather than left leased by a dead
// process. Serving cannot be made to fail from outside a process, so this
// runs run() in the test process, with a listener that fails on demand.
func TestServeFailureHandsExecutionsBack(t *testing.T) {
	// Not parallel: it sets the environment and replaces listen.
	fake := newHeldProvider(t)
	path := filepath.Join(t.TempDir(), "flowker.db")
	for k, v := range map[string]string{"DATABASE_URL": "sqlite:" + path, "SERVER_ADDRESS": "127.0.0.1:0",
		"SSRF_ALLOW_PRIVATE": "true", "SHUTDOWN_TIMEOUT": "100ms", "LOG_LEVEL": "error", "ENABLE_TELEMETRY": "",
		"API_KEY_ENABLED": "", "AUTH_OIDC_ENABLED": "", "ENGINE_WORKER_ID": "", "FLOWKER_SECRET_KEY": ""} {
		t.Setenv(k, v)
	}
	listening := make(chan *failingListener, 1)
	orig := listen
	listen = func(ctx context.Context, address string) (net.Listener, error) {
		ln, err := orig(ctx, address)
		if err != nil {
			return nil, err
		}
		f := &failingListener{Listener: ln, fail: make(chan struct{})}
		listening <- f
		return f, nil
	}
	t.Cleanup(func() { listen = orig })
	exit := make(chan int, 1)
	go func() { exit <- run() }()
	var ln *failingListener
	select {
	case ln = <-listening:
	case code := <-exit:
		t.Fatalf("run exited with %d before listening", code)
	}
	p := &proc{t: t, addr: ln.Addr().String(), stderr: &syncBuffer{}, exited: make(chan struct{}),
		client: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}}}
	t.Cleanup(p.client.CloseIdleConnections)
	p.waitReady()
	execID := p.startExecution(p.callWorkflow(fake.URL, "a", "b"))
	p.poll("the first call to reach the provider", func() bool { return len(fake.RequestsTo("/a")) == 1 })
	open := func() (*sql.DB, error) { return sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)") }
	require.Equal(t, "sqlite:"+path, readLeases(t, open)[execID].owner, "leased by the running engine")

	ln.failNow()
	select {
	case code := <-exit:
		require.Equal(t, 1, code)
	case <-time.After(deadline):
		t.Fatal("run did not return after serving failed")
	}
	l := readLeases(t, open)[execID]
	require.Equal(t, "running", l.status)
	require.Empty(t, l.owner, "the lease was released: the next start (or another process) resumes it at once")
}

// failingListener's Accept fails for good once failNow was called.
type failingListener struct {
	net.Listener
	fail chan struct{}
	once sync.Once
}

func (l *failingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	select {
	case <-l.fail:
		if c != nil {
			_ = c.Close()
		}
		return nil, errors.New("accept: injected failure")
	default:
		return c, err
	}
}

// failNow makes Accept fail, and wakes it with one connection.
func (l *failingListener) failNow() {
	l.once.Do(func() { close(l.fail) })
	var d net.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if c, err := d.DialContext(ctx, "tcp", l.Addr().String()); err == nil {
		_ = c.Close()
	}
}

// lease is an execution's status and lease as stored.
type lease struct{ status, owner, expires string }

// readLeases returns every execution's lease by id.
func readLeases(t *testing.T, open func() (*sql.DB, error)) map[string]lease {
	t.Helper()
	db, err := open()
	require.NoError(t, err)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	rows, err := db.QueryContext(ctx, `SELECT CAST(id AS TEXT), status, lease_owner,
		COALESCE(CAST(lease_expires_at AS TEXT), '') FROM executions`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]lease{}
	for rows.Next() {
		var id string
		var l lease
		require.NoError(t, rows.Scan(&id, &l.status, &l.owner, &l.expires))
		out[id] = l
	}
	require.NoError(t, rows.Err())
	return out
}
