// Package sqlite opens the embedded default store: a SQLite file in WAL mode
// with one writer connection (SQLite allows one writer at a time; queuing in
// Go beats spinning on SQLITE_BUSY) and a pool of read-only readers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"flowker/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open creates the file and its directory if needed, applies migrations and
// returns the store. synchronous is SQLite's PRAGMA synchronous (FULL keeps
// a committed transaction across power loss; NORMAL only across a crash).
func Open(ctx context.Context, path, synchronous string) (*sqlstore.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)",
		"synchronous(" + synchronous + ")"} {
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
	rdb.SetMaxOpenConns(max(4, runtime.NumCPU()))
	s, err := sqlstore.Open(ctx, wdb, rdb, sqlstore.Dialect{
		Name:              "sqlite",
		Goose:             goose.DialectSQLite3,
		Migrations:        migrations,
		IsUniqueViolation: isUniqueViolation,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite %s: %w", path, err), rdb.Close(), wdb.Close())
	}
	return s, nil
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) &&
		(e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
