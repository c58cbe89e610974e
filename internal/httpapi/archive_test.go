package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/secret"
	"flowker/internal/service"
	"flowker/internal/store/sqlite"
)

const archiveVerify = "/v1/audit-events/archive/verify"

// archivedHarness serves the API with retention configured, runs n
// executions and archives them (as the retention runner would two days
// later), one file each; it returns the files.
func archivedHarness(t *testing.T, n int) (h *harness, dir string, files []string) {
	t.Helper()
	h, dir = retentionHarness(t, n)
	res, err := archiver(t, h).ArchiveExecutions(context.Background(), archivePolicy(dir))
	require.NoError(t, err)
	require.Len(t, res.Files, n)
	return h, dir, res.Files
}

// retentionHarness serves the API with retention configured, as ops, and
// runs n executions.
func retentionHarness(t *testing.T, n int) (h *harness, dir string) {
	t.Helper()
	dir = t.TempDir()
	h = newHarness(t, map[string]string{"API_KEY_ENABLED": "true",
		"API_KEYS": "ops:" + opsKey + ",reader:" + readerKey, "API_KEY_PERMISSIONS": "reader=workflows:read",
		"RETENTION_AGE": "1d", "RETENTION_ARCHIVE_DIR": dir})
	h.headers = []string{"X-API-Key", opsKey}
	wf := h.expect(h.do("POST", "/v1/workflows", linear("archived")), http.StatusCreated, "")["workflowId"].(string)
	h.expect(h.do("POST", "/v1/workflows/"+wf+"/activate", nil), http.StatusOK, "")
	for i := range n {
		h.expect(h.do("POST", "/v1/workflows/"+wf+"/executions?wait=5s", map[string]any{"inputData": map[string]any{}},
			"Idempotency-Key", "k"+strconv.Itoa(i)), http.StatusOK, "")
	}
	return h, dir
}

// archiver is the retention runner two days later, on the harness's database.
func archiver(t *testing.T, h *harness) *service.Service {
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, secret.KeySize))
	require.NoError(t, err)
	return service.New(h.store.(*sqlite.Store), box,
		service.WithClock(func() time.Time { return time.Now().Add(48 * time.Hour) }))
}

func archivePolicy(dir string) service.RetentionPolicy {
	return service.RetentionPolicy{Age: 24 * time.Hour, ArchiveDir: dir, BatchSize: 1}
}

// TestVerifyArchiveEndpoint: GET /v1/audit-events/archive/verify checks the
// configured archive against the audit chain and names what is missing,
// altered or unrecorded.
func TestVerifyArchiveEndpoint(t *testing.T) {
	t.Parallel()
	h, dir, files := archivedHarness(t, 3)
	events := len(h.expect(h.do("GET", "/v1/audit-events?limit=100", nil), http.StatusOK, "")["items"].([]any))

	r := h.do("GET", archiveVerify, nil)
	v := h.expect(r, http.StatusOK, "")
	require.Equal(t, true, v["isValid"])
	require.EqualValues(t, 3, v["totalChecked"])
	require.Contains(t, v["message"], "intact")
	for _, list := range []string{"missingFiles", "alteredFiles", "unrecordedFiles"} {
		require.Contains(t, string(r.body), `"`+list+`":[]`, "an empty list, not null")
	}
	require.Len(t, h.expect(h.do("GET", "/v1/audit-events?limit=100", nil), http.StatusOK, "")["items"], events,
		"a verification is a read: no audit event, as the chain's verification")

	// A file altered, a file deleted, a manifest entry no event records.
	require.NoError(t, os.WriteFile(filepath.Join(dir, files[0]), []byte("forged"), 0o600))
	require.NoError(t, os.Remove(filepath.Join(dir, files[1])))
	manifest := filepath.Join(dir, filepath.Dir(files[2]), "MANIFEST.json")
	var m map[string]any
	data, err := os.ReadFile(manifest)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &m))
	stray := filepath.Dir(files[2]) + "/executions-00000000-0000-7000-8000-000000000000.jsonl.gz"
	m["files"] = append(m["files"].([]any), map[string]any{"file": stray, "sha256": "00"})
	data, err = json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(manifest, data, 0o600))

	v = h.expect(h.do("GET", archiveVerify, nil), http.StatusOK, "")
	require.Equal(t, false, v["isValid"])
	require.EqualValues(t, 3, v["totalChecked"])
	require.Equal(t, []any{files[0]}, v["alteredFiles"])
	require.Equal(t, []any{files[1]}, v["missingFiles"])
	require.Equal(t, []any{stray}, v["unrecordedFiles"])
	require.Contains(t, v["message"], "1 missing and 1 altered")

	// A manifest that cannot be read: the standard 500, details in the log.
	require.NoError(t, os.Remove(manifest))
	require.NoError(t, os.Mkdir(manifest, 0o700))
	h.expect(h.do("GET", archiveVerify, nil), http.StatusInternalServerError, "FLK-9999")
}

// TestVerifyArchiveRequests: the route's path variants, its permission,
// and the refusals every route gives (query text, methods); parameters are
// ignored (the directory is the server's).
func TestVerifyArchiveRequests(t *testing.T) {
	t.Parallel()
	h, _, _ := archivedHarness(t, 1)
	for _, path := range []string{archiveVerify, "/V1/Audit-Events/ARCHIVE/Verify/",
		archiveVerify + "?dir=/&file=..%2F..%2Fetc%2Fpasswd&from=00000000-0000-4000-8000-000000000000"} {
		v := h.expect(h.do("GET", path, nil), http.StatusOK, "")
		require.Equal(t, true, v["isValid"], path)
		require.EqualValues(t, 1, v["totalChecked"], path)
	}
	r := h.do("HEAD", archiveVerify, nil)
	require.Equal(t, http.StatusOK, r.status)
	for _, q := range []string{"?dir=%00", "?dir=%FF", "?x%00=1"} {
		h.refused(h.do("GET", archiveVerify+q, nil), "FLK-0304", "query parameter")
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "PROPFIND"} {
		h.expect(h.do(m, archiveVerify, nil), http.StatusMethodNotAllowed, "FLK-0004")
	}
	// "archive" alone is not an event id, and not this route.
	h.expect(h.do("GET", "/v1/audit-events/archive", nil), http.StatusBadRequest, "FLK-0002")

	// The audit routes' authentication and permission.
	h.headers = nil
	h.expect(h.do("GET", archiveVerify, nil), http.StatusUnauthorized, "UNAUTHORIZED")
	m := h.expect(h.do("GET", archiveVerify, nil, "X-API-Key", readerKey), http.StatusForbidden, "FORBIDDEN")
	require.Contains(t, m["message"], "audit-events:read")
}

// TestVerifyArchiveNotConfigured: without retention there is no archive.
func TestVerifyArchiveNotConfigured(t *testing.T) {
	t.Parallel()
	h, do := auditHarness(t)
	m := h.expect(do("GET", archiveVerify, nil), http.StatusUnprocessableEntity, "FLK-0613")
	require.Contains(t, m["message"], "RETENTION_ARCHIVE_DIR")
}

// TestVerifyArchiveDuringArchiving: verifications running while batches
// are written never report a batch's file as unrecorded (each lists its
// file in its manifest before its event commits; docs/history.md).
func TestVerifyArchiveDuringArchiving(t *testing.T) {
	t.Parallel()
	const n = 12
	h, dir := retentionHarness(t, n)
	archived := make(chan error, 1)
	go func() {
		res, err := archiver(t, h).ArchiveExecutions(context.Background(), archivePolicy(dir))
		if err == nil && len(res.Files) != n {
			err = fmt.Errorf("archived %d files, want %d", len(res.Files), n)
		}
		archived <- err
	}()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers []verifyAnswer
	)
	done := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				a := getArchiveVerification(h.base)
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	require.NoError(t, <-archived)
	close(done)
	wg.Wait()
	seen := 0
	for _, a := range answers {
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status, a.body)
		var v struct {
			IsValid         bool
			TotalChecked    int
			UnrecordedFiles []string
		}
		require.NoError(t, json.Unmarshal([]byte(a.body), &v))
		require.True(t, v.IsValid, a.body)
		require.Empty(t, v.UnrecordedFiles, a.body)
		seen = max(seen, v.TotalChecked)
	}
	v := h.expect(h.do("GET", archiveVerify, nil), http.StatusOK, "")
	require.EqualValues(t, n, v["totalChecked"])
	require.Empty(t, v["unrecordedFiles"])
	t.Logf("%d verifications during the run saw up to %d of %d files", len(answers), seen, n)
}

type verifyAnswer struct {
	status int
	body   string
	err    error
}

// getArchiveVerification asks for a verification as ops, off the test's
// goroutine (the harness's server checks the answer against the contract).
func getArchiveVerification(base string) verifyAnswer {
	req, err := http.NewRequestWithContext(context.Background(), "GET", base+archiveVerify, nil)
	if err != nil {
		return verifyAnswer{err: err}
	}
	req.Header.Set("X-API-Key", opsKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return verifyAnswer{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return verifyAnswer{status: resp.StatusCode, body: string(body), err: err}
}
