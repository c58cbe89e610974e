// Package sqlite opens the embedded default store: a SQLite file in WAL mode
// with one writer connection (SQLite allows one writer at a time; queuing in
// Go beats spinning on SQLITE_BUSY) and a pool of read-only readers.
//
// One process per file: Open takes an exclusive lock on <path>.lock (path
// with its symbolic links resolved), held until Close (or the process's
// death), so a second process refuses to start instead of running the
// first one's executions again, or changing the catalog behind the first
// one's lookups.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"flowker/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store: the shared SQL store, and the lock that makes
// this process the file's only user until Close.
type Store struct {
	*sqlstore.DB
	lock     *os.File
	unlocked sync.Once
}

// Close closes the database, then releases the lock.
func (s *Store) Close() error {
	err := s.DB.Close()
	s.unlocked.Do(func() { err = errors.Join(err, unlock(s.lock)) })
	return err
}

// InUseError is Open's answer when another process holds the database.
type InUseError struct {
	Path string
	PID  int // 0: unknown
}

func (e *InUseError) Error() string {
	pid := "pid unknown"
	if e.PID > 0 {
		pid = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("the SQLite database %s is in use by another Flowker process (%s)", e.Path, pid)
}

// Open creates the file and its directory if needed, takes the file's
// process lock (an *InUseError when another process has it), applies
// migrations and returns the store. synchronous is SQLite's PRAGMA
// synchronous (FULL keeps a committed transaction across power loss;
// NORMAL only across a crash).
func Open(ctx context.Context, path, synchronous string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	resolved, err := realPath(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	lock, err := lockFile(resolved)
	if inUse := (*InUseError)(nil); errors.As(err, &inUse) {
		inUse.Path = path // as the operator wrote it
	}
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, resolved, synchronous)
	if err != nil {
		return nil, errors.Join(err, unlock(lock))
	}
	return &Store{DB: s, lock: lock}, nil
}

// realPath is path with its symbolic links resolved, so that every
// spelling of one database (a link to it, a path through a linked
// directory) takes the same lock: the store keeps catalog lookups in
// memory on the promise that no other process writes its file
// (sqlstore.Dialect.OneProcess). A new database's directory exists
// (Open made it); a link to nothing is refused.
func realPath(path string) (string, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return resolved, err
	}
	if _, lerr := os.Lstat(path); lerr == nil {
		return "", fmt.Errorf("%s is a link to a file that does not exist", path)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	return filepath.Join(dir, filepath.Base(path)), err
}

// lockFile takes an exclusive flock(2) on path+".lock" and writes this
// process's id into it. The lock belongs to the open file, so the kernel
// drops it when the process dies, even by kill -9; the file itself stays
// (removing it would let two processes lock two different files).
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	fd := int(f.Fd()) //nolint:gosec // a file descriptor fits in an int
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			raw, _ := io.ReadAll(io.LimitReader(f, 32))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
			return nil, &InUseError{Path: path, PID: pid}
		}
		return nil, fmt.Errorf("sqlite: locking %s.lock: %w", path, err)
	}
	if err := writePID(f); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: %s.lock: %w", path, err), unlock(f))
	}
	return f, nil
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// unlock releases the lock (closing the file would too; explicit is clearer).
func unlock(f *os.File) error {
	if f == nil {
		return nil
	}
	return errors.Join(syscall.Flock(int(f.Fd()), syscall.LOCK_UN), f.Close()) //nolint:gosec // as in lockFile
}

func open(ctx context.Context, path, synchronous string) (*sqlstore.DB, error) {
	pragmas := url.Values{}
	// secure_delete(FAST) zeroes a deleted or replaced row's bytes in the
	// page written in its place (no extra I/O), and a write that replaces
	// or deletes sealed values is followed by a checkpoint that truncates
	// the WAL (scrubWAL): a replaced secret's old ciphertext does not
	// outlive that write in either file (docs/security.md, "At rest").
	// Otherwise the WAL keeps its size when it restarts, up to
	// journal_size_limit: a commit that grows the file costs a second
	// flush, of its size.
	// temp_store(MEMORY) keeps savepoints' sub-journals (a group commit
	// that isolates its callers) out of temporary files.
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")", "foreign_keys(1)",
		"synchronous(" + synchronous + ")", "secure_delete(FAST)", "journal_size_limit(" + strconv.Itoa(walSizeLimit) + ")",
		"temp_store(MEMORY)"} {
		pragmas.Add("_pragma", p)
	}
	dsn := "file:" + path + "?"
	wdb, err := sql.Open("sqlite", dsn+pragmas.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	pragmas.Add("_pragma", "query_only(1)")
	rdb, err := sql.Open("sqlite", dsn+pragmas.Encode())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: %w", err), wdb.Close())
	}
	readers := max(4, runtime.NumCPU())
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers) // kept open: a new connection opens the file and prepares every statement again
	s, err := sqlstore.Open(ctx, wdb, rdb, sqlstore.Dialect{
		Name:                      "sqlite",
		Goose:                     goose.DialectSQLite3,
		Migrations:                migrations,
		IsUniqueViolation:         isUniqueViolation,
		IsUnavailable:             isUnavailable,
		IsServerError:             isSQLiteError,
		RefusedValue:              refusedValue,
		UnixSeconds:               func(col string) string { return "unixepoch(" + col + ")" }, // parses timeArg's text
		CacheStatements:           true,                                                        // the driver parses every statement it runs
		AnonymousParams:           true,
		OneProcess:                true, // Open holds the file's lock
		DeadlineBetweenStatements: true, // a goroutine per statement otherwise; none waits for a lock
		ScrubWAL:                  scrubWAL,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite %s: %w", path, err), rdb.Close(), wdb.Close())
	}
	return s, nil
}

const (
	busyTimeoutMS = 10000
	// walSizeLimit is what the WAL is cut back to when it restarts, when a
	// long read kept it from being checkpointed and it grew past it.
	walSizeLimit = 64 << 20
)

// scrubWAL checkpoints the whole WAL into the database and truncates it to
// nothing. It waits for no reader (busy_timeout 0 for the call): any read
// in progress makes it report not done, to be tried again.
func scrubWAL(ctx context.Context, c *sql.Conn) (done bool, err error) {
	if _, err = c.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return false, err
	}
	var busy, frames, copied int
	err = c.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied)
	_, restore := c.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.Itoa(busyTimeoutMS))
	if err = errors.Join(err, restore); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn }) // not handed on with busy_timeout 0
		return false, err
	}
	return busy == 0, nil
}

// isUnavailable: the database is locked past busy_timeout, or the disk is
// full — worth a retry later.
func isUnavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL:
		return true
	}
	return false
}

// isSQLiteError: an error SQLite returned (a result code), as apart from
// a value the store could not convert or decode.
func isSQLiteError(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e)
}

// refusedValue: a string or blob over SQLite's size limit.
func refusedValue(err error) (string, bool) {
	var e *sqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_TOOBIG {
		return "string or blob too big", true
	}
	return "", false
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) &&
		(e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
