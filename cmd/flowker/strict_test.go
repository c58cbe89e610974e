package main

// Strict input answers the same on SQLite and on PostgreSQL
// (docs/decisions.md, "Strict input"): a NUL or invalid UTF-8 is a 400
// naming the field on both (PostgreSQL refused it from the store, SQLite
// stored it); concurrent blind PUTs all apply, last writer wins (PostgreSQL
// answered all but one 409); PUTs with the same If-Match: one 200, the
// others 412 FLK-0013.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/store/storetest"
)

func TestStrictInputOnBothStores(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		p := start(t, testSecretKey)
		p.waitReady()
		strictText(t, p)
		concurrentWriters(t, p)
	})
	t.Run("postgresql", func(t *testing.T) {
		t.Parallel()
		url := storetest.PostgresURL(t) // skips without FLOWKER_TEST_DATABASE_URL
		p := start(t, "DATABASE_URL="+url, testSecretKey)
		p.waitReady()
		strictText(t, p)
		concurrentWriters(t, p)
	})
}

func strictText(t *testing.T, p *proc) {
	for _, tc := range []struct{ method, path, body, code, field string }{
		{"POST", "/v1/workflows", `{"name": "a\u0000b"}`, "FLK-0001", `"name"`},
		{"POST", "/v1/workflows", "{\"name\": \"ok\", \"metadata\": {\"k\": \"caf\xe9\"}}", "FLK-0001", `"metadata.k"`},
		{"POST", "/v1/provider-configurations", `{"name": "p\u0000", "providerId": "http", "config": {"base_url": "https://x.example"}}`,
			"FLK-0001", `"name"`},
		{"GET", "/v1/workflows?name=a%00b", "", "FLK-0304", `"name"`},
		{"GET", "/v1/executions?status=%FF", "", "FLK-0304", `"status"`},
	} {
		status, body, err := sendRaw(p, tc.method, tc.path, tc.body)
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, status, "%s %s: %v", tc.method, tc.path, body)
		require.Equal(t, tc.code, body["code"], "%v", body)
		require.Contains(t, body["message"], tc.field)
	}
	_, _, list := p.send("GET", "/v1/workflows", nil)
	require.Empty(t, list["items"], "nothing was written")
}

func concurrentWriters(t *testing.T, p *proc) {
	body := func(desc string) map[string]any {
		return map[string]any{"name": "contended", "description": desc,
			"nodes": []map[string]any{{"id": "t", "type": "trigger"}, {"id": "a", "type": "action"}},
			"edges": []map[string]any{{"id": "e", "source": "t", "target": "a"}}}
	}
	code, _, wf := p.send("POST", "/v1/workflows", body("v1"))
	require.Equal(t, http.StatusCreated, code, "%v", wf)
	path := "/v1/workflows/" + wf["workflowId"].(string)
	const writers = 8

	race := func(ifMatch string) map[int]int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		got := map[int]int{}
		var errs []error
		for i := range writers {
			wg.Go(func() {
				status, err := putJSON(p, path, body(fmt.Sprintf("writer %d", i)), ifMatch)
				mu.Lock()
				defer mu.Unlock()
				got[status]++
				if err != nil {
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		require.Empty(t, errs)
		return got
	}
	require.Equal(t, map[int]int{http.StatusOK: writers}, race(""), "blind writes all apply")
	_, header, w := p.send("GET", path, nil)
	require.Equal(t, float64(1+writers), w["revision"], "each blind write applied once")
	require.Equal(t, fmt.Sprintf(`"%d"`, 1+writers), header.Get("ETag"))
	require.Equal(t, map[int]int{http.StatusOK: 1, http.StatusPreconditionFailed: writers - 1},
		race(header.Get("ETag")), "one conditional write wins")
}

// sendRaw sends body bytes as they are (JSON content type when not empty)
// and decodes the answer; usable from goroutines (no require).
func sendRaw(p *proc, method, path, body string) (int, map[string]any, error) {
	var raw []byte
	if body != "" {
		raw = []byte(body)
	}
	status, _, answer, err := p.request(method, path, raw)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	err = json.Unmarshal(answer, &m)
	return status, m, err
}

// putJSON is a PUT usable from goroutines (no require): its status.
func putJSON(p *proc, path string, body any, ifMatch string) (int, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	var headers []string
	if ifMatch != "" {
		headers = []string{"If-Match", ifMatch}
	}
	status, _, b, err := p.request(http.MethodPut, path, raw, headers...)
	if err == nil && status != http.StatusOK && status != http.StatusPreconditionFailed {
		err = fmt.Errorf("PUT %s: %d %s", path, status, b)
	}
	return status, err
}
