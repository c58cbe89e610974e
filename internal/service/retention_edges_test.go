package service_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// archiveFilesOnDisk lists the executions-*.jsonl.gz files under dir,
// relative and slash-separated.
func archiveFilesOnDisk(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*", "executions-*.jsonl.gz"))
	require.NoError(t, err)
	var out []string
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		require.NoError(t, err)
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

// docs/history.md ("One batch, and why a crash loses nothing") promises
// that an error before the commit leaves "at worst, a file (listed in its
// manifest)". When the manifest step failed (a full disk, a manifest that
// cannot be read), the batch's file, renamed to its final name already,
// was left listed by no manifest and recorded by no event: one more at
// every retention interval while the failure lasted (found by a defect
// hunt). It is removed.
func TestManifestFailureLeavesNoUnlistedFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	seedHistory(t, st, 3)
	svc := newRetention(t, st)
	p := policy(t, 10)

	// The first due day's manifest cannot be read (here: a malformed one,
	// as a torn or hostile write would leave; ENOSPC on its rewrite fails
	// at the same step).
	day := retentionNow.AddDate(0, 0, -40).Format("2006-01-02")
	require.NoError(t, os.MkdirAll(filepath.Join(p.ArchiveDir, day), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(p.ArchiveDir, day, "MANIFEST.json"), []byte("{\"files\": [tor"), 0o600))

	for range 3 { // three retention intervals
		_, err := svc.ArchiveExecutions(ctx, p)
		require.Error(t, err)
	}
	listed := map[string]bool{}
	for _, f := range manifestEntriesLoose(p.ArchiveDir) {
		listed[f] = true
	}
	var unlisted []string
	for _, f := range archiveFilesOnDisk(t, p.ArchiveDir) {
		if !listed[f] {
			unlisted = append(unlisted, f)
		}
	}
	require.Empty(t, unlisted, "archive files left behind by batches that failed, listed in no manifest "+
		"and recorded by no event (%d runs)", 3)
}

// manifestEntriesLoose is manifestEntries skipping manifests that do not parse.
func manifestEntriesLoose(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "MANIFEST.json"))
	var out []string
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if i := strings.Index(line, `"file": "`); i >= 0 {
				out = append(out, strings.TrimSuffix(strings.TrimSpace(line[i+9:]), `",`))
			}
		}
	}
	return out
}

// A summary from a time in the last slot (or day) of year 9999 counts
// nothing: no execution starts then. On SQLite the changes not yet folded
// were read from the bound rounded up to the next slot, 10000-01-01, whose
// text sorts before every stored time: all were counted, with the sign of
// their change (found by a defect hunt).
func TestSummaryFromTheLastSlotOrDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	seedHistory(t, st, 2) // inserted and changed; nothing folded
	svc := newRetention(t, st)
	last := []time.Time{time.Date(9999, 12, 31, 23, 50, 0, 0, time.UTC), time.Date(9999, 12, 31, 1, 0, 0, 0, time.UTC)}
	for _, from := range last {
		got, err := svc.ExecutionSummary(ctx, &from, nil, "")
		require.NoError(t, err)
		require.Empty(t, got, "nothing started after %v", from)
	}
	// Folded into the slot and day rollups, the same.
	_, err := st.FoldExecutionCounts(ctx, 1000)
	require.NoError(t, err)
	for _, from := range last {
		got, err := svc.ExecutionSummary(ctx, &from, nil, "")
		require.NoError(t, err)
		require.Empty(t, got, "nothing started after %v, folded", from)
	}
}
