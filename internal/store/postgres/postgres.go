// Package postgres opens the PostgreSQL store (pgx through database/sql).
// Several flowker processes may share one database: migrations take a
// session advisory lock, and every write is conditional. A process with a
// fixed lease owner id (ENGINE_WORKER_ID) holds it with LockOwner, so two
// processes never run as the same owner.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL store: the shared SQL store and, once LockOwner
// succeeded, the session that holds this process's owner lock.
type Store struct {
	*sqlstore.DB
	url string

	mu    sync.Mutex
	owner *pgx.Conn // holds the owner lock; nil before LockOwner and after Close
}

// Open connects to url, applies migrations under a cross-process lock and
// returns the store with at most maxConns connections.
func Open(ctx context.Context, url string, maxConns int) (*Store, error) {
	s, err := open(ctx, url, maxConns)
	if err != nil {
		return nil, err
	}
	return &Store{DB: s, url: url}, nil
}

// Close closes the pool, then ends the owner lock's session (releasing the
// lock) once nothing more will be written.
func (s *Store) Close() error {
	err := s.DB.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, s.owner.Close(ctx))
		s.owner = nil
	}
	return err
}

// OwnerInUseError is LockOwner's answer when another session holds the
// owner id.
type OwnerInUseError struct {
	Owner  string
	Holder string // the holder's application_name when visible: "flowker host=… pid=…"
}

func (e *OwnerInUseError) Error() string {
	holder := "another Flowker process"
	if e.Holder != "" {
		holder += " (" + e.Holder + ")"
	}
	return fmt.Sprintf("worker id %q is in use by %s on this database", e.Owner, holder)
}

// ownerLockRetry is how often LockOwner asks again while the id is held.
const ownerLockRetry = 200 * time.Millisecond

// LockOwner takes a session advisory lock on owner (scoped to the schema
// the store uses) on a connection of its own, held until Close: the
// engine's recovery takes back every lease of its owner id at once, so two
// live processes with one id would run each other's executions. While
// another session holds the lock LockOwner keeps asking, until ctx is done;
// then it returns an *OwnerInUseError. A holder that dies loses the lock
// when PostgreSQL ends its session: at once when the process is killed on
// a live host, within about 25 s (TCP keepalives set below) when its host
// vanished.
func (s *Store) LockOwner(ctx context.Context, owner string) error {
	cfg, err := pgx.ParseConfig(s.url)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	host, _ := os.Hostname()
	name := fmt.Sprintf("flowker host=%s pid=%d", host, os.Getpid())
	cfg.RuntimeParams["application_name"] = name[:min(len(name), 63)]
	// The server notices a vanished client (and frees the lock) within
	// idle + interval × count seconds.
	// UTF-8 whatever the server's default: text is sent as such, and a
	// literal the heartbeat writes into its statement (quoteLiteral) is
	// quoted for it.
	cfg.RuntimeParams["client_encoding"] = "UTF8"
	cfg.RuntimeParams["tcp_keepalives_idle"] = "10"
	cfg.RuntimeParams["tcp_keepalives_interval"] = "5"
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: owner lock: %w", err)
	}
	// The lock lives as long as this idle session: a server-wide
	// idle_session_timeout (PostgreSQL 14+) must not end it. Older
	// servers do not know the setting, which is fine.
	_, _ = conn.Exec(ctx, "SET idle_session_timeout = 0")
	var key int64
	err = conn.QueryRow(ctx, "SELECT hashtextextended('flowker.owner:' || current_schema() || ':' || $1, 0)",
		owner).Scan(&key)
	for held := false; err == nil; held = true {
		var locked bool
		err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&locked)
		if err == nil && locked {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.owner != nil { // a second LockOwner replaces the first
				_ = s.owner.Close(context.Background())
			}
			s.owner = conn
			return nil
		}
		if err != nil && (ctx.Err() == nil || !held) {
			break // a failure, not a wait that ran out
		}
		select {
		case <-time.After(ownerLockRetry):
		case <-ctx.Done():
			inUse := &OwnerInUseError{Owner: owner, Holder: lockHolder(cfg, conn, key)}
			return errors.Join(inUse, conn.Close(context.Background()))
		}
	}
	return errors.Join(fmt.Errorf("postgres: owner lock: %w", err), conn.Close(context.Background()))
}

// lockHolder names the session holding the advisory lock key, when this
// role may see it ("" otherwise). It asks on conn, or on a session of its
// own when conn is closed: a wait whose ctx ended while a try was in
// flight leaves conn closed (pgx ends a connection whose statement's ctx
// is done), and the refusal must still name the holder.
func lockHolder(cfg *pgx.ConnConfig, conn *pgx.Conn, key int64) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn.IsClosed() {
		fresh, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return ""
		}
		defer func() { _ = fresh.Close(context.Background()) }()
		conn = fresh
	}
	var name *string
	// A bigint advisory key is stored as classid (high half) and objid (low half).
	_ = conn.QueryRow(ctx, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid::bigint = $1 AND l.objid::bigint = $2`,
		int64(uint64(key)>>32), int64(uint32(key))).Scan(&name) //nolint:gosec // splitting the key's bits
	if name == nil {
		return ""
	}
	return *name
}

func open(ctx context.Context, url string, maxConns int) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// The store's transactions are written for READ COMMITTED whatever the
	// server's or role's default: under REPEATABLE READ, two processes
	// editing different workflows would fail on the catalog counter's row.
	cfg.RuntimeParams["default_transaction_isolation"] = "read committed"
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	// Replicas starting together wait for the first one to migrate; poll
	// each second, up to 5 minutes. The lock is this schema's (as the owner
	// lock is): goose's default key is one per database, shared by every
	// other schema's Flowker and every other goose user there, and waiting
	// out their migrations 1 s poll by 1 s poll stalled starts for seconds.
	// Reading the key is also the first contact with the server: a server
	// that cannot be reached is store.ErrUnavailable.
	var lockID int64
	if err := db.QueryRowContext(ctx,
		"SELECT hashtextextended('flowker.migrate:' || coalesce(current_schema(), ''), 0)").Scan(&lockID); err != nil {
		if isUnavailable(err) || store.Transient(err) {
			err = store.Unavailable(err)
		}
		return nil, errors.Join(fmt.Errorf("postgres: %w", err), db.Close())
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300), lock.WithLockID(lockID))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: %w", err), db.Close())
	}
	s, err := sqlstore.Open(ctx, db, db, dialect(goose.WithSessionLocker(locker)))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: %w", err), db.Close())
	}
	if err := rebuildInvalidIndexes(ctx, db, lockID); err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: %w", err), s.Close())
	}
	return s, nil
}

// concurrentIndexes are the indexes migrations build CONCURRENTLY (00006).
var concurrentIndexes = []string{"executions_workflow_status_started", "executions_workflow_completed",
	"executions_status_completed", "executions_unfinished_started", "execution_waits_reviews_workflow"}

// rebuildInvalidIndexes rebuilds those of concurrentIndexes this schema has
// INVALID. A CREATE INDEX CONCURRENTLY cut short on the server (a restart,
// a failover, a cancel) leaves its index INVALID — maintained by every
// write, used by no query — and the migration, run again, skips it (IF NOT
// EXISTS). Each is dropped and built again from its own definition, both
// CONCURRENTLY, by the process that holds the schema's migration lock: two
// doing it at once deadlocked (found by a review). No other index is
// touched (an operator's, or what an interrupted REINDEX left).
func rebuildInvalidIndexes(ctx context.Context, db *sql.DB, lockID int64) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Tried, not waited for: a session waiting for the lock is a
	// transaction a concurrent build waits for in turn (a deadlock). The
	// process holding it migrates or rebuilds, and rebuilds after.
	var locked bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", lockID).Scan(&locked); err != nil || !locked {
		return err
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockID) }()
	rows, err := conn.QueryContext(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),
		pg_get_indexdef(i.indexrelid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT i.indisvalid AND n.nspname = current_schema() AND c.relname = ANY($1)`, concurrentIndexes)
	if err != nil {
		return fmt.Errorf("looking for invalid indexes: %w", err)
	}
	defer rows.Close()
	var names, defs []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return err
		}
		names, defs = append(names, name), append(defs, def)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, name := range names {
		rebuild := strings.Replace(defs[i], " INDEX ", " INDEX CONCURRENTLY IF NOT EXISTS ", 1)
		for _, stmt := range []string{"DROP INDEX CONCURRENTLY IF EXISTS " + name, rebuild} {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("rebuilding the invalid index %s: %w", name, err)
			}
		}
	}
	return nil
}

// dialect is what PostgreSQL needs beyond the shared SQL.
func dialect(locker goose.ProviderOption) sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:              "postgresql",
		Goose:             goose.DialectPostgres,
		Migrations:        migrations,
		Locker:            locker,
		IsUniqueViolation: isUniqueViolation,
		SkipLocked:        " FOR UPDATE SKIP LOCKED",
		ForUpdate:         " FOR UPDATE",
		AuditLock:         "SELECT pg_advisory_xact_lock(7346127001)", // any fixed key, used only for this
		IsUnavailable:     isUnavailable,
		IsServerError:     isServerError,
		RefusedValue:      refusedValue,
		Pipeline:          pipeline,
		FenceLease:        fenceLease,
		IsLeaseLost:       isLeaseLost,
		CatalogVersion:    "SELECT version FROM catalog_version",
		CatalogGuard:      "SELECT CAST((SELECT version FROM catalog_version) IS NOT DISTINCT FROM $1 AS catalog_unchanged)",
		IsCatalogMoved:    func(err error) bool { return isCheckOf(err, "catalog_unchanged") },
		UnixSeconds: func(col string) string {
			return "CAST(floor(extract(epoch FROM " + col + ")) AS bigint)"
		},
	}
}

// fenceLease makes a progress write fail when it updates no row (the
// worker lost its lease): the count of rows it updated, cast to the domain
// execution_lease_held (migration 00010), fails its CHECK unless it is 1.
// It still answers the one column cancel_requested.
func fenceLease(update string) string {
	return `WITH u AS (` + update + `) SELECT CASE WHEN CAST(count(*) = 1 AS execution_lease_held)
		THEN bool_or(cancel_requested) END FROM u`
}

// isLeaseLost: the failure fenceLease's statement gives a lost lease.
func isLeaseLost(err error) bool { return isCheckOf(err, "execution_lease_held") }

// isCheckOf: a value cast to the domain failed its CHECK.
func isCheckOf(err error, domain string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23514" && e.DataTypeName == domain
}

// isServerError: an error response of the server's.
func isServerError(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e)
}

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// isUnavailable: a connection attempt that failed (refused, timed out,
// the server starting or shutting down, too many connections). Broken
// connections and SQLSTATEs worth a retry are store.Transient's.
func isUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// refusedValue: SQLSTATE class 22, "data exception" — the server refused a
// value (22P05 untranslatable character: U+0000 in jsonb; 22021 character
// not in repertoire: a NUL byte or invalid UTF-8 in text; 22001 too long…),
// and 54000 "program limit exceeded": a value too large for an index entry
// (a B-tree's is about 2.7 KB).
func refusedValue(err error) (string, bool) {
	var e *pgconn.PgError
	if errors.As(err, &e) && (strings.HasPrefix(e.Code, "22") || e.Code == "54000") { // 54000: too large for an index
		return e.Message + " (SQLSTATE " + e.Code + ")", true
	}
	return "", false
}
