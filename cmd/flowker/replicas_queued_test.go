package main

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
	"flowker/internal/store/storetest"
)

// queuedPair starts two processes on one fresh PostgreSQL schema (skipped
// without one), A with env extra, and a fake provider whose calls to
// holdPath wait until free is called.
func queuedPair(t *testing.T, holdPath string, extraA ...string) (a, b *proc, fake *providertest.Server, free func()) {
	t.Helper()
	url := storetest.PostgresURL(t)
	fake = providertest.New(t)
	release := make(chan struct{})
	fake.Hold(holdPath, release)
	var once sync.Once
	free = func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	base := []string{"DATABASE_URL=" + url, testSecretKey, "SSRF_ALLOW_PRIVATE=true", "LOG_LEVEL=warn"}
	a = start(t, append(append([]string{}, base...), extraA...)...)
	a.waitReady()
	b = start(t, base...)
	b.waitReady()
	return a, b, fake, free
}

// A runs one execution at a time (ENGINE_CONCURRENCY=1); its first
// execution is held at the provider, so a second one started on A queues
// there. A cancel of the second sent to B is acknowledged (200,
// cancelRequested) before it starts: once A's place frees, it ends
// cancelled without calling its provider. A ran it from the copy it was
// handed at the start, and it ended completed (found by a defect hunt;
// internal/engine's TestQueuedNewExecutionReadsItsRow).
func TestCancelOfAQueuedExecutionThroughAnotherProcess(t *testing.T) {
	t.Parallel()
	a, b, fake, free := queuedPair(t, "/hold", "ENGINE_CONCURRENCY=1")

	first := a.startExecution(a.callWorkflow(fake.URL, "hold"))
	a.poll("the first call to be held at the provider", func() bool { return len(fake.RequestsTo("/hold")) == 1 })

	second := a.startExecution(a.callWorkflow(fake.URL, "post"))
	_, ex := a.mustGet("/v1/executions/" + second)
	require.Equal(t, "running", ex["status"], "queued on A (leased, not started): %v", ex)

	code, _, body := b.send("POST", "/v1/executions/"+second+"/cancel", nil)
	require.Equal(t, http.StatusOK, code, "%v", body)
	require.Equal(t, true, body["cancelRequested"], "%v", body)

	free()
	a.poll("both executions to finish", func() bool {
		_, x := a.mustGet("/v1/executions/" + first)
		_, y := a.mustGet("/v1/executions/" + second)
		return x["status"] == "completed" && y["status"] != "running" && y["status"] != "pending"
	})
	_, ex = a.mustGet("/v1/executions/" + second)
	require.Empty(t, fake.RequestsTo("/post"),
		"the provider was called for an execution whose cancel was acknowledged before it started (final status %v)", ex["status"])
	require.Equal(t, "cancelled", ex["status"], "%v", ex)
}
