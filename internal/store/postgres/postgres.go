// Package postgres opens the PostgreSQL store (pgx through database/sql).
// Several flowker processes may share one database: migrations take a
// session advisory lock, and every write is conditional.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"flowker/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to url, applies migrations under a cross-process lock and
// returns the store with at most maxConns connections.
func Open(ctx context.Context, url string, maxConns int) (*sqlstore.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: %w", err), db.Close())
	}
	// Replicas starting together wait for the first one to migrate; poll each second, up to 5 minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: %w", err), db.Close())
	}
	s, err := sqlstore.Open(ctx, db, db, sqlstore.Dialect{
		Name:              "postgresql",
		Goose:             goose.DialectPostgres,
		Migrations:        migrations,
		Locker:            goose.WithSessionLocker(locker),
		IsUniqueViolation: isUniqueViolation,
		SkipLocked:        " FOR UPDATE SKIP LOCKED",
		AuditLock:         "SELECT pg_advisory_xact_lock(7346127001)", // any fixed key, used only for this
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: %w", err), db.Close())
	}
	return s, nil
}

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}
