package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// catalogCache answers the catalog lookups every execution makes — its
// workflow's revision, its provider configurations' revisions, the
// webhook route it came in by — from memory while the catalog has not
// changed. Each of them was a read; together they cost more than a fifth
// of the executions SQLite could run (docs/benchmarks.md, "Sixth pass").
// A lookup still sees every change committed before it asked, as a read
// would: a value is kept with the catalog's generation seen before it was
// read, and used only while the generation seen now is the same.
//
// Where no other process writes the database (Dialect.OneProcess: SQLite,
// whose file this process holds locked), the generation is this
// process's: every write to those tables goes through this store (the
// catalog tables' insert, update and delete, ReplaceWebhookRoutes), which
// calls begin before its first statement and end after its transaction
// committed or rolled back; both advance gen, and while a write is in
// flight, begun or not yet ended, every lookup reads.
//
// Elsewhere (PostgreSQL) it is a counter in the database that every
// catalog write advances in its own transaction (a trigger, so any
// writer's), read by each lookup: one shared read of one row for all
// lookups of every kind, and one for all the lookups of a
// store.WithCatalogView. The lookups of a store.WithGuardedCatalogView read
// none: they take the counter as last read, and the execution created
// under the view is guarded on it (guardCatalog).
type catalogCache struct {
	enabled atomic.Bool                   // until the store closes (a lookup then fails, as a read)
	version *sharedReads[struct{}, int64] // the database's counter; nil with OneProcess
	writing atomic.Int64                  // catalog writes begun and not ended (OneProcess)
	gen     atomic.Uint64                 // advanced when a catalog write begins and when it ends (OneProcess)
	misses  atomic.Int64                  // lookups that read (tests)
	reads   atomic.Int64                  // reads of the database's counter, shared or with a write (tests)
	seen    atomic.Uint64                 // the highest counter value read (version): a guarded view's generation
	guards  bool                          // a guarded view may take seen (Dialect.CatalogGuard)

	mu        sync.Mutex
	tag       uint64 // the generation the values below were read at
	workflows map[uuid.UUID]int
	configs   map[uuid.UUID]int
	routes    map[routeKey]flow.WebhookRoute
}

// maxCatalogEntries bounds each map; past it, the map starts over.
const maxCatalogEntries = 10000

func (c *catalogCache) begin() { c.writing.Add(1); c.gen.Add(1) }
func (c *catalogCache) end()   { c.gen.Add(1); c.writing.Add(-1) }

// now is the generation a value read from here on may be kept with;
// false while a catalog write of this process is in flight, or when the
// counter cannot be read (the lookup's own read then says why).
func (c *catalogCache) now(ctx context.Context) (uint64, bool) {
	switch {
	case !c.enabled.Load() || ctx.Err() != nil:
		return 0, false
	case c.version != nil:
		if view := store.CatalogViewOf(ctx); view != nil {
			var recall func() (uint64, bool)
			if c.guards {
				recall = c.recall
			}
			return view.Generation(func() (uint64, bool) { return c.readVersion(ctx) }, recall) // once for the view's lookups
		}
		return c.readVersion(ctx)
	case c.writing.Load() > 0:
		return 0, false
	}
	return c.gen.Load(), true
}

// readVersion reads the database's counter (a shared read).
func (c *catalogCache) readVersion(ctx context.Context) (uint64, bool) {
	v, err := c.version.get(ctx, struct{}{})
	if err != nil {
		return 0, false
	}
	return c.observe(v), true
}

// observe notes a counter value read from the database (the highest is
// what a guarded view recalls) and returns it as a generation.
func (c *catalogCache) observe(v int64) uint64 {
	gen := uint64(v) //nolint:gosec // the counter starts above 0 and only grows
	for {
		seen := c.seen.Load()
		if gen <= seen || c.seen.CompareAndSwap(seen, gen) {
			return gen
		}
	}
}

// recall is the counter as last read, for a guarded view (false: never
// read). Values a lookup reads under it are kept with it: if the counter
// has moved on since, they are newer than that generation's, which a
// lookup may always be answered with (it sees at least every change
// committed before it asked).
func (c *catalogCache) recall() (uint64, bool) {
	seen := c.seen.Load()
	return seen, seen > 0
}

// catalogLookup returns m's value for key if it is still what the
// database holds, else read's, kept when it may be. m is one of c's maps,
// guarded by c.mu. Only values are kept: a key not found is read again.
func catalogLookup[K comparable, V any](ctx context.Context, c *catalogCache, m *map[K]V, key K,
	read func(context.Context, K) (V, error)) (V, error) {
	gen, ok := c.now(ctx)
	if ok {
		c.mu.Lock()
		v, hit := (*m)[key]
		hit = hit && c.tag == gen
		c.mu.Unlock()
		if hit {
			return v, nil
		}
	}
	c.misses.Add(1)
	v, err := read(ctx, key)
	if err != nil || !ok {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case gen < c.tag: // read before a newer generation's values: keep those
		return v, nil
	case gen > c.tag:
		c.tag, c.workflows, c.configs, c.routes = gen, nil, nil, nil
	}
	if *m == nil || len(*m) >= maxCatalogEntries {
		*m = map[K]V{}
	}
	(*m)[key] = v
	return v, nil
}

// changingCatalog marks a catalog write begun, before its first
// statement; the write ends at done outside a transaction, or when the
// transaction ends (settle) inside one. Where the database counts the
// writes itself (version), there is nothing to mark.
func (q *queries) changingCatalog() (done func()) {
	if q.inTx {
		q.catalogChanged = true
	}
	switch {
	case q.catalog.version != nil:
	case !q.inTx:
		q.catalog.begin()
		return q.catalog.end
	case !q.catalogBegun:
		q.catalogBegun = true
		q.catalog.begin()
	}
	return func() {}
}

// settle ends a transaction's catalog write, if it made one; called once
// the transaction committed or rolled back.
func (q *queries) settle() {
	if q.catalogBegun {
		q.catalogBegun = false
		q.catalog.end()
	}
}

// guardCatalog adds to the transaction the guard of ctx's catalog view,
// when its lookups answered with a generation they did not read
// (store.WithGuardedCatalogView): the transaction then fails with
// store.ErrCatalogMoved if the counter has moved since. It is queued with
// the transaction's writes (Later), costing no round trip of its own.
func (q *queries) guardCatalog(ctx context.Context) error {
	gen, ok := store.CatalogViewOf(ctx).Unverified()
	if !ok {
		return nil
	}
	err := q.w.Later(ctx, Pipelined{SQL: q.d.CatalogGuard, Args: []any{int64(gen)}}) //nolint:gosec // a counter value read from a bigint
	if err != nil && q.d.IsCatalogMoved(err) {
		return store.ErrCatalogMoved
	}
	return err
}

// ReadCatalogView: see store.Tx. The view waits for the transaction's
// end: one read of the counter, after every caller's statements and
// before the audit events and COMMIT (readCatalog), fills every view a
// caller of the transaction asked for, once it committed. Each of them
// asked for its write before the transaction began, so the read comes
// after that.
func (q *queries) ReadCatalogView(_ context.Context, view *store.CatalogView) error {
	if q.catalog.version != nil && q.inTx {
		q.catalogViews = append(q.catalogViews, view)
	}
	return nil
}

// LockCatalog: see store.Tx.
func (q *queries) LockCatalog(ctx context.Context) error {
	if q.d.CatalogVersion == "" {
		return nil // one process, one write transaction at a time
	}
	var v int64
	return q.d.classify(q.w.QueryRowContext(ctx, q.d.CatalogVersion+q.d.ForUpdate).Scan(&v))
}

// readCatalog queues the read that fills the transaction's views once it
// has committed (committed), if any: with its last writes and, where they
// are pipelined, with COMMIT. A transaction that changed the catalog
// leaves them unfilled: it would read a counter it moved, not committed
// and perhaps never. The handler refuses nothing the database accepted
// (Checked): it passes on the database's own errors only, and a value it
// cannot scan leaves the views unfilled.
func (q *queries) readCatalog(ctx context.Context) error {
	if len(q.catalogViews) == 0 || q.catalogChanged {
		return nil
	}
	q.catalog.reads.Add(1)
	queued := time.Now()
	return q.w.Later(ctx, Pipelined{SQL: q.d.CatalogVersion, Checked: true, Row: func(r scanner) error {
		var v int64
		if err := r.Scan(&v); err != nil {
			if q.d.IsServerError(err) {
				return err
			}
			return nil
		}
		q.catalogRead = catalogRead{gen: q.catalog.observe(v), queued: queued}
		return nil
	}})
}

// catalogRead is what readCatalog's read found (gen 0: nothing; the
// counter starts above 0), and when it was queued.
type catalogRead struct {
	gen    uint64
	queued time.Time
}

// committed fills the views of a transaction that committed, if its read
// found the counter. A transaction that did not commit leaves them as they
// were: its callers get an error, or run again (commitBatch's reruns,
// commitProgress's attempts) in a transaction of their own, which fills
// them only if it reads.
func (q *queries) committed() {
	if q.catalogRead.gen == 0 {
		return
	}
	for _, view := range q.catalogViews {
		view.Fill(q.catalogRead.gen, q.catalogRead.queued)
	}
}
