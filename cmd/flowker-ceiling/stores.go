package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // driver "sqlite"
)

// The one table: an execution and the answers it got. The status values
// are Flowker's, so the bench counts finished executions the same way.
const (
	sqliteSchema = `CREATE TABLE IF NOT EXISTS executions (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    input       TEXT NOT NULL,
    tracer      TEXT,
    midaz       TEXT,
    error       TEXT NOT NULL DEFAULT '',
    started_at  TEXT NOT NULL,
    finished_at TEXT
) STRICT`
	postgresSchema = `CREATE TABLE IF NOT EXISTS executions (
    id          uuid PRIMARY KEY,
    status      text NOT NULL,
    input       jsonb NOT NULL,
    tracer      jsonb,
    midaz       jsonb,
    error       text NOT NULL DEFAULT '',
    started_at  timestamptz NOT NULL,
    finished_at timestamptz
)`
)

// statements by writeKind, with $1 the id; SQLite reads $N as ?N.
var statements = [...]string{
	insertExecution: `INSERT INTO executions (id, status, input, started_at) VALUES ($1, 'running', $2, $3)`,
	saveTracer:      `UPDATE executions SET tracer = $2 WHERE id = $1`,
	finishExecution: `UPDATE executions SET status = $2, midaz = $3, error = $4, finished_at = $5 WHERE id = $1`,
}

// args are a write's statement arguments; text turns JSON and times into
// what SQLite stores (Flowker's layout for times).
func args(w *write, text bool) []any {
	var doc, at any = w.json, w.at
	if text {
		at = w.at.UTC().Format("2006-01-02T15:04:05.000000Z")
		if w.json != nil {
			doc = string(w.json)
		} else {
			doc = nil
		}
	} else if w.json == nil {
		doc = nil // SQL NULL, not an empty jsonb
	}
	switch w.kind {
	case insertExecution:
		return []any{w.id, doc, at}
	case saveTracer:
		return []any{w.id, doc}
	default:
		return []any{w.id, w.status, doc, w.errText, at}
	}
}

// sqliteStore: WAL, one connection (SQLite has one writer), the three
// statements prepared once.
type sqliteStore struct {
	path  string
	db    *sql.DB
	stmts [len(statements)]*sql.Stmt
}

func openSQLite(ctx context.Context, path, synchronous string) (*sqliteStore, error) {
	synchronous = strings.ToUpper(synchronous)
	if synchronous != "FULL" && synchronous != "NORMAL" && synchronous != "EXTRA" {
		return nil, fmt.Errorf("-synchronous: want FULL or NORMAL, got %q", synchronous)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(" + synchronous + ")"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	// One connection: statements prepared on the DB are then prepared on it
	// once, and Tx.Stmt reuses them (a *sql.Conn's would be prepared again
	// in every transaction).
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	s := &sqliteStore{path: path, db: db}
	if _, err := db.ExecContext(ctx, sqliteSchema); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite %s: %w", path, err), db.Close())
	}
	for k, text := range statements {
		//nolint:sqlclosecheck // kept for the process's life, closed by close()
		if s.stmts[k], err = db.PrepareContext(ctx, strings.ReplaceAll(text, "$", "?")); err != nil {
			return nil, errors.Join(fmt.Errorf("sqlite: preparing %q: %w", text, err), db.Close())
		}
	}
	return s, nil
}

func (s *sqliteStore) name() string { return "SQLite " + s.path }

func (s *sqliteStore) commit(ctx context.Context, group []*write) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, w := range group {
		//nolint:sqlclosecheck // a transaction's statement is closed by its commit or rollback
		if _, err := tx.StmtContext(ctx, s.stmts[w.kind]).ExecContext(ctx, args(w, true)...); err != nil {
			return errors.Join(err, tx.Rollback())
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) close() error {
	for _, st := range s.stmts {
		if st != nil {
			_ = st.Close()
		}
	}
	return s.db.Close()
}

// postgresStore: one connection; a group is one pgx.Batch between BEGIN and
// COMMIT, sent and answered in one round trip (pgx caches the prepared
// statements after their first use).
type postgresStore struct {
	conn *pgx.Conn
}

func openPostgres(ctx context.Context, dsn string) (*postgresStore, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, err := conn.Exec(ctx, postgresSchema); err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: %w", err), conn.Close(ctx))
	}
	return &postgresStore{conn: conn}, nil
}

func (p *postgresStore) name() string {
	c := p.conn.Config()
	return fmt.Sprintf("PostgreSQL %s:%d/%s", c.Host, c.Port, c.Database)
}

func (p *postgresStore) commit(ctx context.Context, group []*write) error {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	for _, w := range group {
		b.Queue(statements[w.kind], args(w, false)...)
	}
	b.Queue("COMMIT")
	return p.conn.SendBatch(ctx, b).Close() // the first error, if any; the server then rolls back
}

func (p *postgresStore) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	return p.conn.Close(ctx)
}
