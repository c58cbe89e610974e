package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

// catalogCache answers the catalog lookups every execution makes — its
// workflow's revision, its provider configurations' revisions, the
// webhook route it came in by — from memory, on a database no other
// process writes (Dialect.OneProcess: SQLite, whose file this process
// holds locked). Each of them was a read; together they cost more than a
// fifth of the executions SQLite could run (docs/benchmarks.md, "Sixth
// pass").
//
// A lookup still sees every change committed before it asked, as a read
// would. Every write to those tables goes through this store (the
// catalog tables' insert, update and delete, ReplaceWebhookRoutes), which
// calls begin before its first statement and end after its transaction
// committed or rolled back; both advance gen. A value read while no write
// was in flight is kept with the generation seen before the read, and
// used only while no write is in flight and gen has not moved: no write
// began since it was read, so it is what the database holds. A write in
// flight, begun or not yet ended, sends every lookup to the database.
//
// On a database other processes write (PostgreSQL), this process cannot
// know their writes, and every lookup reads (sharedReads).
type catalogCache struct {
	enabled atomic.Bool   // OneProcess, until the store closes (a lookup then fails, as a read)
	writing atomic.Int64  // catalog writes begun and not ended
	gen     atomic.Uint64 // advanced when a catalog write begins and when it ends
	misses  atomic.Int64  // lookups that read (tests)

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
// false while a catalog write is in flight (or the cache is off).
func (c *catalogCache) now() (uint64, bool) {
	if !c.enabled.Load() || c.writing.Load() > 0 {
		return 0, false
	}
	return c.gen.Load(), true
}

// catalogLookup returns m's value for key if it is still what the
// database holds, else read's, kept when it may be. m is one of c's maps,
// guarded by c.mu. Only values are kept: a key not found is read again.
func catalogLookup[K comparable, V any](ctx context.Context, c *catalogCache, m *map[K]V, key K,
	read func(context.Context, K) (V, error)) (V, error) {
	gen, ok := c.now()
	if ok && ctx.Err() == nil { // else the read says why it cannot answer
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
// transaction ends (settle) inside one.
func (q *queries) changingCatalog() (done func()) {
	switch {
	case q.catalog == nil:
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
