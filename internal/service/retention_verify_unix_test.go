//go:build unix

package service_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestVerifyArchiveNotARegularFile: a recorded file or a day's
// MANIFEST.json replaced by a named pipe or a link to a device (a hostile
// archive) is an error naming it, at once: opening a pipe no one writes to
// would block forever, and reading /dev/zero would never end (whole, for a
// manifest: the memory would run out).
func TestVerifyArchiveNotARegularFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, p, res := archivedOnce(t)
	file := filepath.Join(p.ArchiveDir, filepath.FromSlash(res.Files[0]))
	manifest := filepath.Join(filepath.Dir(file), "MANIFEST.json")

	for _, target := range []struct{ path, named string }{{file, res.Files[0]}, {manifest, "MANIFEST.json"}} {
		original, err := os.ReadFile(target.path)
		require.NoError(t, err)
		for _, c := range []struct { // the pipe first: without the check, it blocks and the test ends there
			name    string
			replace func() error
		}{
			{"named pipe", func() error { return syscall.Mkfifo(target.path, 0o600) }},
			{"/dev/zero", func() error { return os.Symlink("/dev/zero", target.path) }},
		} {
			what := target.named + " as a " + c.name
			require.NoError(t, os.Remove(target.path))
			require.NoError(t, c.replace(), what)
			done := make(chan error, 1)
			go func() {
				_, err := svc.VerifyArchive(ctx, p.ArchiveDir)
				done <- err
			}()
			select {
			case err := <-done:
				require.ErrorContains(t, err, target.named, what)
				require.ErrorContains(t, err, "not a regular file", what)
			case <-time.After(10 * time.Second):
				if w, err := os.OpenFile(target.path, os.O_WRONLY, 0); err == nil { // let a blocked open return
					_ = w.Close()
				}
				t.Fatalf("%s: the verification did not return", what)
			}
		}
		require.NoError(t, os.Remove(target.path))
		require.NoError(t, os.WriteFile(target.path, original, 0o600)) // the next target's check reaches it
	}
}
