package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx": counts finished executions on PostgreSQL
	_ "modernc.org/sqlite"             // driver "sqlite": counts finished executions on SQLite (read-only)
)

// benchStore is one database configuration under test.
type benchStore struct {
	key, label  string
	version     string // PostgreSQL server version
	dsn         string // PostgreSQL: the URL of this store's schema
	synchronous string // SQLite: FULL or NORMAL
	// env returns the flowker environment for a server whose files live in
	// dir; open returns a read-only view of that server's database.
	env     func(dir string) []string
	open    func(dir string) (*sql.DB, error)
	cleanup func()
}

// pgDB is db when the store is PostgreSQL, else nil (see pgWork).
func (st *benchStore) pgDB(db *sql.DB) *sql.DB {
	if !st.postgres() {
		return nil
	}
	return db
}

func storeFor(ctx context.Context, key string, o options) (*benchStore, error) {
	sqlite := func(sync string) *benchStore {
		return &benchStore{
			key: key, label: "SQLite " + sync, synchronous: sync,
			env: func(dir string) []string {
				return []string{"DATABASE_URL=sqlite:" + sqlitePath(dir), "SQLITE_SYNCHRONOUS=" + sync}
			},
			open: func(dir string) (*sql.DB, error) {
				return sql.Open("sqlite", "file:"+sqlitePath(dir)+"?mode=ro&_pragma=busy_timeout(5000)")
			},
			cleanup: func() {},
		}
	}
	switch key {
	case "sqlite-full":
		return sqlite("FULL"), nil
	case "sqlite-normal":
		return sqlite("NORMAL"), nil
	case "postgres":
		if o.pgURL == "" {
			return nil, nil
		}
		return postgresStore(ctx, o.pgURL)
	}
	return nil, fmt.Errorf("-stores: unknown store %q (sqlite-full, sqlite-normal, postgres)", key)
}

func sqlitePath(dir string) string { return filepath.Join(dir, "flowker.db") }

func (st *benchStore) postgres() bool { return st.dsn != "" }

// timeArg is t as the store keeps started_at: PostgreSQL's timestamptz, or
// Flowker's fixed-width UTC text on SQLite (which compares as text).
func (st *benchStore) timeArg(t time.Time) any {
	if st.postgres() {
		return t
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// postgresStore works in a fresh schema of the given database (search_path
// in the URL), dropped afterwards, so counts start from zero and nothing
// is left behind.
func postgresStore(ctx context.Context, base string) (*benchStore, error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return nil, fmt.Errorf("-pg-url: %w", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var version string
	if err := admin.QueryRowContext(ctx, "SHOW server_version").Scan(&version); err != nil {
		return nil, fmt.Errorf("-pg-url: %w", err)
	}
	schema := "bench_" + randomHex(8)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, fmt.Errorf("-pg-url: creating schema: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("-pg-url: not a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn := u.String()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secretKey := base64.StdEncoding.EncodeToString(key) // throwaway: seals this run's provider configurations
	return &benchStore{
		key: "postgres", label: "PostgreSQL", version: strings.Fields(version + " ")[0], dsn: dsn,
		env:  func(string) []string { return []string{"DATABASE_URL=" + dsn, "FLOWKER_SECRET_KEY=" + secretKey} },
		open: func(string) (*sql.DB, error) { return sql.Open("pgx", dsn) },
		cleanup: func() {
			db, err := sql.Open("pgx", base)
			if err != nil {
				return
			}
			defer db.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				progress("warning: could not drop schema %s: %v", schema, err)
			}
		},
	}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// counts is how many executions are in each state; running counts pending
// ones too.
type counts struct{ running, waiting, completed, failed, cancelled int }

func (c counts) finished() int { return c.completed + c.failed + c.cancelled }

func countExecutions(ctx context.Context, db *sql.DB) (counts, error) {
	return countExecutionsBy(ctx, db, `SELECT status, count(*) FROM executions GROUP BY status`)
}

// countExecutionsSince counts the executions started at or after since (a
// timeArg) with one seek per status into the (status, started_at) index: on
// a database holding millions of past executions, counting them all every
// 20 ms would be the heaviest load on the machine. Every status is named:
// with started_at alone, SQLite scanned that covering index whole (5,000,000
// entries a poll; TestCountSinceSeeksEachStatus).
func countExecutionsSince(ctx context.Context, db *sql.DB, since any) (counts, error) {
	return countExecutionsBy(ctx, db, countSinceQuery, since)
}

const countSinceQuery = `SELECT status, count(*) FROM executions
	WHERE status IN ('pending', 'running', 'waiting', 'completed', 'failed', 'cancelled') AND started_at >= $1
	GROUP BY status`

// countExecutionsBy runs query, which yields status, count rows.
func countExecutionsBy(ctx context.Context, db *sql.DB, query string, args ...any) (counts, error) {
	var c counts
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return c, err
		}
		switch status {
		case "completed":
			c.completed = n
		case "failed":
			c.failed = n
		case "cancelled":
			c.cancelled = n
		case "waiting":
			c.waiting = n
		default:
			c.running += n
		}
	}
	return c, rows.Err()
}
