// Package sqlstore implements store.Store once, over database/sql, for both
// SQLite and PostgreSQL: the two accept the same SQL text ($N parameters,
// RETURNING, ON CONFLICT) when times are passed as fixed-width UTC strings.
// What differs — DDL and error codes — comes in through Dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
)

// Dialect is what one database needs beyond the shared SQL.
type Dialect struct {
	Name       string               // "sqlite" or "postgresql"
	Goose      goose.Dialect        // migration dialect
	Migrations embed.FS             // *.sql under migrations/
	Locker     goose.ProviderOption // cross-process migration lock, if any
	// IsUniqueViolation reports whether err broke a unique constraint.
	IsUniqueViolation func(error) bool
	// SkipLocked ends a claim's row selection (" FOR UPDATE SKIP LOCKED" on
	// PostgreSQL; empty on SQLite, whose single writer serialises claims).
	SkipLocked string
	// ForUpdate ends a read that holds its row until commit (" FOR UPDATE"
	// on PostgreSQL; empty on SQLite, whose writer holds the whole database).
	ForUpdate string
	// AuditLock serialises audit appends across processes until commit
	// (PostgreSQL: a transaction advisory lock; SQLite: its single writer).
	AuditLock string
	// IsUnavailable reports a database's own "retry later" errors beyond
	// the generic ones store.Transient knows (PostgreSQL: a failed
	// connection attempt; SQLite: BUSY, LOCKED, FULL). They reach callers
	// as store.ErrUnavailable.
	IsUnavailable func(error) bool
	// IsServerError reports an error the database itself answered a
	// statement with (PostgreSQL: an error response; SQLite: a result
	// code), as apart from the store's own failure to convert or decode
	// what it returned: the only errors a read back passes on
	// (ReadBackExecution).
	IsServerError func(error) bool
	// RefusedValue reports whether the database refused a value as data
	// (PostgreSQL: SQLSTATE class 22; SQLite: TOOBIG), and why. It reaches
	// callers as store.ErrUnstorable.
	RefusedValue func(error) (why string, ok bool)
	// UnixSeconds is an SQL expression of a time column's whole seconds
	// since the Unix epoch, as an integer (dashboards bucket by it).
	UnixSeconds func(column string) string
	// CacheStatements keeps prepared statements per pool (stmtCache), for
	// a driver that does not (modernc SQLite; pgx has its own cache).
	CacheStatements bool
	// Pipeline, if set, sends stmts on c in one round trip, in order, and
	// runs their handlers; group commits then use it (pipeConn). When stmts
	// end with COMMIT it must not give up on the round trip when ctx ends
	// while the server may still run it: it asks the server to cancel, and
	// reports the server's answer (pipeConn.commit).
	Pipeline func(ctx context.Context, c *sql.Conn, stmts []Pipelined) error
	// FenceLease, if set, wraps a progress write (UPDATE … RETURNING
	// cancel_requested, fenced on the lease) so that the server fails it
	// when it updates no row, with an error IsLeaseLost reports: no handler
	// then has to refuse the result before COMMIT (pipeConn.commit).
	FenceLease  func(update string) string
	IsLeaseLost func(error) bool

	// AnonymousParams sends statements whose $N appear in order, once
	// each, with ? instead (anonymousParams; SQLite binds those faster).
	AnonymousParams bool
	// OneProcess: no other process writes the database (SQLite, whose
	// file the process has locked), so catalog lookups may be answered
	// from memory while this process's writes allow (catalogCache).
	OneProcess bool
	// CatalogVersion, if set, reads the counter every catalog write
	// advances (PostgreSQL's catalog_version), so catalog lookups may be
	// answered from memory while it stays the same (catalogCache).
	CatalogVersion string
	// CatalogGuard, with CatalogVersion, is a statement ($1: a counter
	// value) that fails, with an error IsCatalogMoved reports, when the
	// counter is not at $1: the guard of an execution created under a
	// store.WithGuardedCatalogView, sent with the insert.
	CatalogGuard   string
	IsCatalogMoved func(error) bool
	// DeadlineBetweenStatements: a group commit's statements run with a
	// context that never ends, and each is refused once the batch's
	// deadline has passed, instead of being interrupted when it passes
	// (SQLite: its driver starts a goroutine per statement to watch a
	// context that can end, and inside the writer's BEGIN IMMEDIATE a
	// statement never waits for a lock; the transaction's own context,
	// which COMMIT honours, still ends with the batch).
	DeadlineBetweenStatements bool
	// ScrubWAL, if set, empties the write-ahead log on c, a writer
	// connection outside any transaction, without waiting for readers
	// (done false: a read was in progress). It runs after a
	// transaction that replaced or deleted sealed values (walScrub).
	ScrubWAL func(ctx context.Context, c *sql.Conn) (done bool, err error)

	closed   <-chan struct{}   // the store's, set by Open: errors after Close are ErrUnavailable
	auditKey audit.Key         // seals the chain, set by UseAuditKey
	fenced   map[string]string // progress writes as FenceLease wraps them, set by Open
	params   *anonymousParams  // set by Open when AnonymousParams
}

// queries runs the shared SQL. Reads go to r and writes to w; outside a
// transaction they may be different pools (SQLite: many readers, one writer).
type queries struct {
	r, w execer
	d    *Dialect
	// audit holds the events a transaction appended, inserted right
	// before it commits (flushAudit). Only used when inTx.
	audit []*audit.Event
	inTx  bool
	// catalog is the store's; catalogBegun: this transaction began a
	// catalog write (changingCatalog), ended by settle.
	catalog      *catalogCache
	catalogBegun bool
	// catalogChanged: this transaction wrote the catalog (changingCatalog);
	// catalogViews: what its callers asked ReadCatalogView to fill, with
	// what readCatalog read once it commits. Only used when inTx.
	catalogChanged bool
	catalogViews   []*store.CatalogView
	catalogRead    catalogRead
	scrub          *walScrub // the store's, nil without Dialect.ScrubWAL
}

// DB is a store.Store over a writer pool and a reader pool.
type DB struct {
	queries
	wdb, rdb *sql.DB
	dialect  Dialect

	stmts        struct{ r, w *stmtCache } // nil unless Dialect.CacheStatements
	revisions    struct{ configs, workflows *sharedReads[uuid.UUID, int] }
	routes       *sharedReads[routeKey, *flow.WebhookRoute]
	catalog      catalogCache
	endReads     context.CancelFunc // Close: end the shared reads now
	batches      chan *batchReq     // group commit: see Batch
	batchTimeout time.Duration      // deadline of one group-commit transaction
	closeGrace   time.Duration      // how long Close lets an in-flight batch finish
	batchCtx     context.Context
	abortBatches context.CancelFunc // Close: end the in-flight batch now
	closeOnce    sync.Once
	closed       chan struct{}
	loopDone     chan struct{}
	lastShrink   atomic.Int64 // Unix ns of shrinkChanges' last try
}

var _ store.Store = (*DB)(nil)

// Open migrates the database and returns the store. rdb may equal wdb.
func Open(ctx context.Context, wdb, rdb *sql.DB, d Dialect) (*DB, error) {
	if err := migrate(ctx, wdb, d); err != nil {
		return nil, err
	}
	s := &DB{wdb: wdb, rdb: rdb, dialect: d, batchTimeout: BatchTimeout, closeGrace: closeGrace,
		batches: make(chan *batchReq, maxBatch), closed: make(chan struct{}), loopDone: make(chan struct{})}
	var abort context.CancelCauseFunc
	s.batchCtx, abort = context.WithCancelCause(context.Background())
	s.abortBatches = func() { abort(errStoreClosed) }
	s.dialect.closed = s.closed
	if d.AnonymousParams {
		s.dialect.params = &anonymousParams{}
	}
	if d.FenceLease != nil {
		s.dialect.fenced = map[string]string{progressUpdate: d.FenceLease(progressUpdate),
			runningUpdate: d.FenceLease(runningUpdate)}
	}
	if d.CacheStatements {
		s.stmts.w, s.stmts.r = newStmtCache(), newStmtCache()
		if rdb == wdb {
			s.stmts.r = s.stmts.w
		}
	}
	s.catalog.enabled.Store(d.OneProcess || d.CatalogVersion != "")
	var scrub *walScrub
	if d.ScrubWAL != nil {
		scrub = newWALScrub(wdb, d.ScrubWAL)
		// A crash may have left one wanted: the count is in memory only.
		scrub.want()
		scrub.ifWanted()
	}
	s.queries = queries{r: &conn{db: rdb, d: &s.dialect, stmts: s.stmts.r},
		w: &conn{db: wdb, d: &s.dialect, stmts: s.stmts.w}, d: &s.dialect, catalog: &s.catalog, scrub: scrub}
	var reads context.Context
	reads, s.endReads = context.WithCancel(context.Background())
	s.revisions.configs = sharedRevisions(reads, providerConfigs, s.r)
	s.revisions.workflows = sharedRevisions(reads, workflows, s.r)
	s.routes = sharedRoutes(reads, s.r)
	if d.CatalogVersion != "" && !d.OneProcess {
		s.catalog.guards = d.CatalogGuard != ""
		s.catalog.version = &sharedReads[struct{}, int64]{base: reads,
			read: func(ctx context.Context, _ []struct{}) (map[struct{}]int64, error) {
				var v int64
				s.catalog.reads.Add(1)
				err := s.r.QueryRowContext(ctx, d.CatalogVersion).Scan(&v)
				return map[struct{}]int64{{}: v}, err
			}}
	}
	go s.batchLoop()
	return s, nil
}

func migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	sub, err := fs.Sub(d.Migrations, "migrations")
	if err != nil {
		return err
	}
	var opts []goose.ProviderOption
	if d.Locker != nil {
		opts = append(opts, d.Locker)
	}
	p, err := goose.NewProvider(d.Goose, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// InTx runs fn in a transaction on the writer pool. Every statement fn
// runs ends when ctx does, whatever context it was given: a caller bounds
// the whole transaction with ctx (a catalog write's deadline, its wait for
// a lock held elsewhere included).
func (s *DB) InTx(ctx context.Context, fn func(store.Tx) error) (err error) {
	tx, err := s.beginWrite(ctx, ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	q := s.inTxOn(tx)
	defer func() {
		p := recover() // a panic in fn ends the transaction too, then goes on up
		tx.end()       // rolled back unless committed
		q.settle()
		s.scrub.ifWanted()
		if p != nil {
			panic(p)
		}
	}()
	if err = fn(q); err != nil {
		return err
	}
	if err = q.beforeCommit(ctx); err != nil {
		return err
	}
	if err = tx.commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	q.committed()
	s.stmts.w.prepareWanted(s.wdb)
	return nil
}

// ProviderConfigRevision outside a transaction is a shared read
// (catalogCache).
func (s *DB) ProviderConfigRevision(ctx context.Context, id uuid.UUID) (int, error) {
	return catalogLookup(ctx, &s.catalog, &s.catalog.configs, id, s.revisions.configs.get)
}

// WorkflowRevision outside a transaction is a shared read (catalogCache).
func (s *DB) WorkflowRevision(ctx context.Context, id uuid.UUID) (int, error) {
	return catalogLookup(ctx, &s.catalog, &s.catalog.workflows, id, s.revisions.workflows.get)
}

// FindWebhookRoute outside a transaction is a shared read (catalogCache);
// each caller gets its own copy.
func (s *DB) FindWebhookRoute(ctx context.Context, method, path string) (*flow.WebhookRoute, error) {
	key, ok := routeKeyOf(method, path)
	if !ok {
		return nil, flow.ErrWebhookNotFound
	}
	r, err := catalogLookup(ctx, &s.catalog, &s.catalog.routes, key,
		func(ctx context.Context, key routeKey) (flow.WebhookRoute, error) {
			r, err := s.routes.get(ctx, key)
			if err != nil {
				return flow.WebhookRoute{}, err
			}
			return *r, nil
		})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// inTxOn is a transaction's queries over c; the runner of the transaction
// calls settle once it committed or rolled back.
func (s *DB) inTxOn(c execer) *queries {
	return &queries{r: c, w: c, d: s.d, inTx: true, catalog: &s.catalog, scrub: s.scrub}
}

// execCount runs a write and returns how many rows it changed.
func (q *queries) execCount(ctx context.Context, query string, args ...any) (int, error) {
	res, err := q.w.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// savepoint runs a SAVEPOINT, ROLLBACK TO or RELEASE statement.
func (q *queries) savepoint(ctx context.Context, stmt string) error {
	_, err := q.w.ExecContext(ctx, stmt)
	return err
}

// Ping checks both pools answer.
func (s *DB) Ping(ctx context.Context) error {
	return errors.Join(s.d.classify(s.wdb.PingContext(ctx)), s.d.classify(s.rdb.PingContext(ctx)))
}

// closeGrace is how long Close lets an in-flight group commit finish before
// it cancels its statements (callers then get store.ErrUnavailable).
const closeGrace = time.Second

// Close stops the group-commit loop and closes both pools. It does not
// wait for a hung batch: after closeGrace the batch's statements are
// cancelled, and after as long again Close closes the pools regardless.
func (s *DB) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.scrub.stop()
		s.catalog.enabled.Store(false)
		s.endReads()
		if !waitFor(s.loopDone, s.closeGrace) {
			s.abortBatches()
			waitFor(s.loopDone, s.closeGrace)
		}
		s.stmts.r.close()
		s.stmts.w.close()
	})
	if s.rdb == s.wdb {
		return s.wdb.Close()
	}
	return errors.Join(s.rdb.Close(), s.wdb.Close())
}

// waitFor reports whether ch closed within d.
func waitFor(ch <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// Driver names the database.
func (s *DB) Driver() string { return s.d.Name }

// timeLayout is fixed-width UTC with microseconds (PostgreSQL's precision),
// so SQLite's text columns sort chronologically and PostgreSQL parses it.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func timeArg(t time.Time) string { return t.UTC().Format(timeLayout) }

// dbTime scans a time from either database: PostgreSQL yields time.Time,
// SQLite the text written by timeArg.
type dbTime struct{ t *time.Time }

func (d dbTime) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*d.t = v.UTC()
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}

func (d dbTime) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	*d.t = t.UTC()
	return err
}

// dbUUID scans a UUID from either database (PostgreSQL uuid, SQLite text).
type dbUUID struct{ id *uuid.UUID }

func (d dbUUID) Scan(src any) error { return d.id.Scan(src) }

// dbNullTime scans a nullable time.
type dbNullTime struct{ t **time.Time }

func (d dbNullTime) Scan(src any) error {
	if src == nil {
		*d.t = nil
		return nil
	}
	var t time.Time
	if err := (dbTime{&t}).Scan(src); err != nil {
		return err
	}
	*d.t = &t
	return nil
}

// nullTimeArg is timeArg for a nullable time.
func nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return timeArg(*t)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
