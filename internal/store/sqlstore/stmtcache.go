package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps one pool's prepared statements by SQL text, for a
// driver that prepares every statement it runs (modernc SQLite parses the
// SQL on each call: it was a fifth of Flowker's CPU under load). pgx
// caches its own statements per connection, so PostgreSQL has none. A nil
// cache is off.
//
// Statements are prepared outside transactions: on SQLite's one writer
// connection, preparing through the pool inside a transaction would wait
// for the connection the transaction holds. A statement first seen inside
// a transaction runs unprepared and is prepared after the commit
// (prepareWanted); a transaction then uses it through Tx.StmtContext,
// which reuses the statement prepared on its connection.
type stmtCache struct {
	mu     sync.RWMutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool
	closed bool
}

// maxCachedStmts bounds the cache: the hot statements are a few dozen
// constants; list queries built from filters vary, and past the bound run
// unprepared as before.
const maxCachedStmts = 200

func newStmtCache() *stmtCache {
	return &stmtCache{stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// stmt returns the statement prepared for query, preparing it on pool when
// pool is set (outside a transaction), or noting it for prepareWanted.
func (c *stmtCache) stmt(ctx context.Context, pool *sql.DB, query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	st, full := c.stmts[query], len(c.stmts) >= maxCachedStmts || c.closed
	c.mu.RUnlock()
	if st != nil || full {
		return st
	}
	if pool == nil {
		c.mu.Lock()
		if len(c.wanted) < maxCachedStmts {
			c.wanted[query] = true
		}
		c.mu.Unlock()
		return nil
	}
	return c.prepare(ctx, pool, query)
}

func (c *stmtCache) prepare(ctx context.Context, pool *sql.DB, query string) *sql.Stmt {
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil // the unprepared call reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.stmts[query]; prev != nil || c.closed || len(c.stmts) >= maxCachedStmts {
		_ = st.Close() //nolint:sqlclosecheck // not kept: closed at once, the cached one stays
		return prev
	}
	c.stmts[query] = st
	return st
}

// prepareWanted prepares the statements transactions asked for. Only the
// goroutine that runs the pool's transactions calls it, between them.
func (c *stmtCache) prepareWanted(pool *sql.DB) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.wanted) == 0 {
		c.mu.Unlock()
		return
	}
	wanted := c.wanted
	c.wanted = map[string]bool{}
	c.mu.Unlock()
	for q := range wanted {
		c.prepare(context.Background(), pool, q)
	}
}

// close closes the statements; later calls run unprepared.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = map[string]*sql.Stmt{}
}
