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

// TestVerifyArchiveNotARegularFile: a recorded file replaced by a named
// pipe or a link to a device (a hostile archive) is an error naming it, at
// once: opening a pipe no one writes to would block forever, and reading
// /dev/zero would never end.
func TestVerifyArchiveNotARegularFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	seedHistory(t, st, 1)
	svc := newRetention(t, st)
	p := policy(t, 10)
	res, err := svc.ArchiveExecutions(ctx, p)
	require.NoError(t, err)
	require.NotEmpty(t, res.Files)
	file := filepath.Join(p.ArchiveDir, filepath.FromSlash(res.Files[0]))

	for name, replace := range map[string]func() error{
		"named pipe": func() error { return syscall.Mkfifo(file, 0o600) },
		"/dev/zero":  func() error { return os.Symlink("/dev/zero", file) },
	} {
		require.NoError(t, os.Remove(file))
		require.NoError(t, replace(), name)
		done := make(chan error, 1)
		go func() {
			_, err := svc.VerifyArchive(ctx, p.ArchiveDir)
			done <- err
		}()
		select {
		case err := <-done:
			require.ErrorContains(t, err, res.Files[0], name)
			require.ErrorContains(t, err, "not a regular file", name)
		case <-time.After(10 * time.Second):
			if name == "named pipe" { // let the blocked open return
				if w, err := os.OpenFile(file, os.O_WRONLY, 0); err == nil {
					_ = w.Close()
				}
			}
			t.Fatalf("%s: the verification did not return", name)
		}
	}
}

// TestVerifyArchiveManifestNotARegularFile: a day's MANIFEST.json replaced
// by a named pipe or a link to a device is an error naming it, at once:
// reading /dev/zero whole would exhaust the memory.
func TestVerifyArchiveManifestNotARegularFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	seedHistory(t, st, 1)
	svc := newRetention(t, st)
	p := policy(t, 10)
	res, err := svc.ArchiveExecutions(ctx, p)
	require.NoError(t, err)
	require.NotEmpty(t, res.Files)
	manifest := filepath.Join(p.ArchiveDir, filepath.Dir(filepath.FromSlash(res.Files[0])), "MANIFEST.json")

	for _, c := range []struct { // the pipe first: without the check, it blocks and the test ends there
		name    string
		replace func() error
	}{
		{"named pipe", func() error { return syscall.Mkfifo(manifest, 0o600) }},
		{"/dev/zero", func() error { return os.Symlink("/dev/zero", manifest) }},
	} {
		require.NoError(t, os.Remove(manifest))
		require.NoError(t, c.replace(), c.name)
		done := make(chan error, 1)
		go func() {
			_, err := svc.VerifyArchive(ctx, p.ArchiveDir)
			done <- err
		}()
		select {
		case err := <-done:
			require.ErrorContains(t, err, "MANIFEST.json", c.name)
			require.ErrorContains(t, err, "not a regular file", c.name)
		case <-time.After(10 * time.Second):
			if w, err := os.OpenFile(manifest, os.O_WRONLY, 0); err == nil { // let a blocked open return
				_ = w.Close()
			}
			t.Fatalf("%s: the verification did not return", c.name)
		}
	}
}
