package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
)

// Verifying the archive against the audit chain (docs/history.md, "The
// audit chain and archived ranges"): every file an EXECUTIONS_ARCHIVED
// event records must be in the archive directory with the recorded
// SHA-256; a file a manifest lists but no event records is reported too.
// GET /v1/audit-events/archive/verify answers it.

// ErrArchiveNotConfigured: retention is off, so this server has no archive
// directory and nothing to verify.
var ErrArchiveNotConfigured = &flow.Error{Kind: flow.KindUnprocessable, Code: "FLK-0613",
	Message: "retention is not configured on this server (RETENTION_AGE and RETENTION_ARCHIVE_DIR): it has no executions archive to verify"}

// ArchiveCheck is the outcome of VerifyArchive.
type ArchiveCheck struct {
	Checked    int      // files the audit chain records
	Missing    []string // recorded, but absent
	Altered    []string // recorded, but their digest differs
	Unrecorded []string // in a manifest, not in the chain: left by a batch that did not commit
}

// Valid reports whether every recorded file is present and unaltered.
func (c ArchiveCheck) Valid() bool { return len(c.Missing) == 0 && len(c.Altered) == 0 }

// archiveEventsPage is how many EXECUTIONS_ARCHIVED events one read takes.
const archiveEventsPage = 500

// How long a verification waits for an archive batch in flight to end,
// and how often it looks (PostgreSQL; SQLite waits for its writer). A
// batch holds the lock for tens of milliseconds.
const (
	batchWaitLimit = 30 * time.Second
	batchWaitPoll  = 20 * time.Millisecond
)

// VerifyArchive checks the archive directory against the audit chain:
// every file an EXECUTIONS_ARCHIVED event records must be there with the
// recorded SHA-256. (The chain itself is checked by VerifyAudit.) dir ""
// (retention off) is ErrArchiveNotConfigured.
//
// A batch lists its file in its manifest before its event commits (the
// file must be durable before any row is deleted), so a verification
// running meanwhile could see the entry and not the event. A manifest
// entry no event records is therefore reported only after the batches in
// flight have ended (the retention lock is free) and the events recorded
// since were read and checked too: what it reports as unrecorded was left
// by a batch that rolled back or never committed.
func (s *Service) VerifyArchive(ctx context.Context, dir string) (c ArchiveCheck, err error) {
	ctx, end := s.op(ctx, "query.history.verify-archive")
	defer end(&err)
	if dir == "" {
		return c, ErrArchiveNotConfigured
	}
	recorded := map[string]bool{}
	last, err := s.checkRecorded(ctx, dir, 0, recorded, &c)
	if err != nil {
		return c, err
	}
	listed, err := manifestFiles(dir)
	if err != nil {
		return c, err
	}
	for _, f := range listed {
		if !recorded[f] {
			if err := s.awaitArchiveBatch(ctx); err != nil {
				return c, err
			}
			// The audit chain's order is its commit order (docs/decisions.md,
			// "Audit trail"): what committed since is after the last event read.
			if _, err := s.checkRecorded(ctx, dir, last, recorded, &c); err != nil {
				return c, err
			}
			break
		}
	}
	for _, f := range listed {
		if !recorded[f] {
			c.Unrecorded = append(c.Unrecorded, f)
		}
	}
	return c, nil
}

// checkRecorded checks the file of every EXECUTIONS_ARCHIVED event after
// sequence number after, adds it to recorded and its outcome to c, and
// returns the sequence number of the last event read.
func (s *Service) checkRecorded(ctx context.Context, dir string, after int64, recorded map[string]bool,
	c *ArchiveCheck) (int64, error) {
	for {
		events, err := s.store.ListAudit(ctx, audit.Filter{EventType: audit.ExecutionsArchived, Ascending: true,
			AfterSeq: after, Limit: archiveEventsPage})
		if err != nil {
			return after, err
		}
		for i := range events {
			file, _ := events[i].Metadata["file"].(string)
			want, _ := events[i].Metadata["sha256"].(string)
			recorded[file] = true
			c.Checked++
			switch got, err := fileDigest(dir, file); {
			case errors.Is(err, errArchiveMissing):
				c.Missing = append(c.Missing, file)
			case err != nil:
				return after, err
			case got != want:
				c.Altered = append(c.Altered, file)
			}
			after = events[i].Seq
		}
		if len(events) < archiveEventsPage {
			return after, nil
		}
	}
}

// awaitArchiveBatch returns once no archive batch is in flight: a batch
// holds the retention lock from before it writes its file until its
// transaction ends. It takes the lock in a transaction of its own and
// releases it at once; on SQLite that transaction waits for the only
// writer, on PostgreSQL the lock is tried every batchWaitPoll. A batch
// still running after batchWaitLimit is ErrUnavailable: retry later.
func (s *Service) awaitArchiveBatch(ctx context.Context) error {
	wait, cancel := context.WithTimeout(ctx, batchWaitLimit)
	defer cancel()
	for {
		var free bool
		err := s.store.InTx(wait, func(tx store.Tx) (err error) {
			free, err = tx.TryLock(wait, retentionLock)
			return err
		})
		switch {
		case err == nil && free:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case wait.Err() != nil:
			return flow.Errorf(flow.KindUnavailable, store.CodeUnavailable,
				"an archiving batch has been running for over %s; retry later", batchWaitLimit)
		case err != nil:
			return err
		}
		select {
		case <-wait.Done():
		case <-time.After(batchWaitPoll):
		}
	}
}

var errArchiveMissing = errors.New("archive file missing")

// fileDigest is the hex SHA-256 of an archive file given by its relative path.
func fileDigest(dir, rel string) (string, error) {
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", fmt.Errorf("archive file %q: not a path inside the archive directory", rel)
	}
	f, err := openRegular(filepath.Join(dir, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return "", errArchiveMissing
	}
	if err != nil {
		return "", fmt.Errorf("archive file %q: %w", rel, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("archive file %q: %w", rel, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// manifestFiles lists the files of every day's manifest, in the order of
// the days. An archive directory that does not exist lists none (its
// recorded files are then missing); one that cannot be read is an error,
// not an empty archive.
func manifestFiles(dir string) ([]string, error) {
	days, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("archive directory: %w", err)
	}
	var out []string
	for _, day := range days {
		path := filepath.Join(dir, day.Name())
		isDir := day.IsDir()
		if day.Type()&fs.ModeSymlink != 0 { // a day kept elsewhere
			fi, err := os.Stat(path)
			isDir = err == nil && fi.IsDir()
		}
		if !isDir {
			continue
		}
		m, err := readManifest(filepath.Join(path, manifestName))
		if err != nil {
			return out, err
		}
		for _, e := range m.Files {
			out = append(out, e.File)
		}
	}
	return out, nil
}
