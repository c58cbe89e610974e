package httpapi_test

// Lost updates (issue 10): every workflow, provider configuration and
// executor configuration carries its revision as a strong ETag; If-Match
// makes PUT, PATCH, DELETE and lifecycle actions conditional (412 FLK-0013
// on a mismatch). Without If-Match, concurrent writes all apply, in some
// order: last writer wins, on both stores (the service re-applies a blind
// write that lost a race on PostgreSQL; internal/service tests that path).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// etagOf returns a response's ETag after checking it is the body's revision.
func etagOf(t *testing.T, r response) string {
	t.Helper()
	tag := r.header.Get("ETag")
	var m map[string]any
	if len(r.body) > 0 {
		m = r.json(t)
	}
	if rev, ok := m["revision"].(float64); ok {
		require.Equal(t, `"`+strconv.Itoa(int(rev))+`"`, tag, string(r.body))
	}
	require.Regexp(t, `^"[0-9]+"$`, tag)
	return tag
}

func TestETagsAndIfMatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	created := h.do("POST", "/v1/workflows", linear("etag"))
	h.expect(created, http.StatusCreated, "")
	require.Equal(t, `"1"`, created.header.Get("ETag"))
	path := "/v1/workflows/" + created.json(t)["workflowId"].(string)
	get := h.do("GET", path, nil)
	require.Equal(t, `"1"`, etagOf(t, get))

	put := func(tag string, name string) response {
		body := linear(name)
		if tag == "" {
			return h.do("PUT", path, body)
		}
		return h.do("PUT", path, body, "If-Match", tag)
	}
	r := put(`"1"`, "etag-2")
	h.expect(r, http.StatusOK, "")
	require.Equal(t, `"2"`, etagOf(t, r))
	// The same stale tag again: 412, and nothing changed.
	m := h.expect(put(`"1"`, "etag-lost"), http.StatusPreconditionFailed, "FLK-0013")
	require.Contains(t, m["message"], "revision 2")
	require.Equal(t, "etag-2", h.expect(h.do("GET", path, nil), http.StatusOK, "")["name"])
	// A list naming the current tag, and *, match; a weak or malformed tag
	// never does, nor one naming the same number in other text ("04", "+4":
	// strong comparison is of the text; they matched, found by a defect hunt).
	h.expect(put(`"7", "2"`, "etag-3"), http.StatusOK, "")
	h.expect(put(`*`, "etag-4"), http.StatusOK, "")
	for _, tag := range []string{`W/"4"`, `4`, `"abc"`, `"04"`, `"+4"`} {
		h.expect(put(tag, "etag-x"), http.StatusPreconditionFailed, "FLK-0013")
	}
	// Lifecycle actions and DELETE take If-Match too.
	h.expect(h.do("POST", path+"/activate", nil, "If-Match", `"3"`), http.StatusPreconditionFailed, "FLK-0013")
	r = h.do("POST", path+"/activate", nil, "If-Match", `"4"`)
	require.Equal(t, `"5"`, etagOf(t, r))
	r = h.do("POST", path+"/deactivate", nil)
	require.Equal(t, `"6"`, etagOf(t, r))
	h.expect(h.do("DELETE", path, nil, "If-Match", `"5"`), http.StatusPreconditionFailed, "FLK-0013")
	h.expect(h.do("DELETE", path, nil, "If-Match", `"6"`), http.StatusNoContent, "")
	h.expect(h.do("DELETE", path, nil, "If-Match", `*`), http.StatusNotFound, "FLK-0100")

	// Provider configurations.
	pcPath := "/v1/provider-configurations/" + h.createProvider(httpProviderBody("https://x.example"))
	require.Equal(t, `"1"`, etagOf(t, h.do("GET", pcPath, nil)))
	r = h.do("PATCH", pcPath, map[string]any{"description": "one"}, "If-Match", `"1"`)
	require.Equal(t, `"2"`, etagOf(t, r))
	h.expect(h.do("PATCH", pcPath, map[string]any{"description": "two"}, "If-Match", `"1"`),
		http.StatusPreconditionFailed, "FLK-0013")
	require.Equal(t, `"3"`, etagOf(t, h.do("POST", pcPath+"/disable", nil, "If-Match", `"2"`)))
	h.expect(h.do("DELETE", pcPath, nil, "If-Match", `"2"`), http.StatusPreconditionFailed, "FLK-0013")
	h.expect(h.do("DELETE", pcPath, nil, "If-Match", `"3"`), http.StatusNoContent, "")

	// Executor configurations.
	exPath := "/v1/executors/" + h.createExecutor(executorBody("ex-etag", "https://exec.example", "none", nil))
	require.Equal(t, `"1"`, etagOf(t, h.do("GET", exPath, nil)))
	r = h.do("PATCH", exPath, executorBody("ex-etag", "https://exec2.example", "none", nil), "If-Match", `"1"`)
	require.Equal(t, `"2"`, etagOf(t, r))
	h.expect(h.do("PATCH", exPath, executorBody("ex-etag", "https://exec3.example", "none", nil), "If-Match", `"1"`),
		http.StatusPreconditionFailed, "FLK-0013")
	require.Equal(t, `"3"`, etagOf(t, h.do("POST", exPath+"/configure", nil, "If-Match", `"2"`)))
	h.expect(h.do("DELETE", exPath, nil, "If-Match", `"2"`), http.StatusPreconditionFailed, "FLK-0013")
	h.expect(h.do("DELETE", exPath, nil, "If-Match", `"3"`), http.StatusNoContent, "")
}

// Concurrent writers: with If-Match exactly one of those that read the same
// revision wins and the others get 412; blind writers all apply.
func TestConcurrentWritersAndIfMatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := h.expect(h.do("POST", "/v1/workflows", linear("race")), http.StatusCreated, "")["workflowId"].(string)
	path := "/v1/workflows/" + id
	const writers = 8

	race := func(tag string) map[int]int {
		var mu sync.Mutex
		var errs []error
		got := map[int]int{}
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				body := linear("race")
				body["description"] = fmt.Sprintf("writer %d", i)
				headers := []string{}
				if tag != "" {
					headers = append(headers, "If-Match", tag)
				}
				status, err := rawSend(h.base, "PUT", path, body, headers...)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				got[status]++
			})
		}
		wg.Wait()
		require.Empty(t, errs)
		return got
	}

	require.Equal(t, map[int]int{http.StatusOK: 1, http.StatusPreconditionFailed: writers - 1}, race(`"1"`))
	require.Equal(t, `"2"`, etagOf(t, h.do("GET", path, nil)))
	require.Equal(t, map[int]int{http.StatusOK: writers}, race(""))
	require.Equal(t, `"10"`, etagOf(t, h.do("GET", path, nil)), "every blind write applied once")
}

// rawSend is a JSON request usable from goroutines (no require): its status.
func rawSend(base, method, path string, body any, headers ...string) (int, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
