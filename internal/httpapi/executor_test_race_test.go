package httpapi_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

// A connectivity test marks a configured executor tested only if what it
// probed is still what is stored: a PATCH while the probe ran (the
// configuration is still editable) was marked tested, and could then be
// activated untested (found by a defect hunt). The test is answered; the
// configuration stays configured.
func TestExecutorTestMarksOnlyWhatItProbed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, allowPrivate)
	fake := providertest.New(t)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	fake.Hold("/v1/check", release) // the end-to-end stage waits

	id := h.createExecutor(executorBody("probed", fake.URL, "bearer", map[string]any{"token": "good-token-0001"}))
	path := exPath + "/" + id
	h.expect(h.do("POST", path+"/configure", nil), http.StatusOK, "")
	done := make(chan response, 1)
	go func() { done <- h.do("POST", path+"/test", nil) }()
	require.Eventually(t, func() bool { return len(fake.RequestsTo("/v1/check")) > 0 }, 5*time.Second, 5*time.Millisecond)

	edited := executorBody("probed", closedPortURL(t), "bearer", map[string]any{"token": "never-tested-9999"})
	h.expect(h.do("PATCH", path, edited), http.StatusOK, "")
	once.Do(func() { close(release) })
	res := h.expect(<-done, http.StatusOK, "")
	require.Equal(t, "passed", res["overallStatus"], "what was probed passed")
	require.Equal(t, "configured", h.expect(h.do("GET", path, nil), http.StatusOK, "")["status"], "not marked: it changed")

	// Probed unchanged, it is marked.
	h.expect(h.do("PATCH", path, executorBody("probed", fake.URL, "bearer", map[string]any{"token": "good-token-0001"})),
		http.StatusOK, "")
	h.expect(h.do("POST", path+"/test", nil), http.StatusOK, "")
	require.Equal(t, "tested", h.expect(h.do("GET", path, nil), http.StatusOK, "")["status"])
}
