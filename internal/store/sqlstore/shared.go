package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// sharedReads runs the small reads of every execution asked for at the
// same time as one statement: every step reads its provider
// configuration's revision, every start its workflow's (so a change
// applies to the next step or start in every process) and every webhook
// call its route, and under load hundreds a second ask for the same few
// rows. A caller's read joins the next statement, never one already
// running, so its answer was read after it asked: it sees every change
// committed before it asked, as a read of its own would.
//
// A reader goroutine runs while anyone waits. Keys are read oldest first,
// at most maxSharedKeys a statement, so a flood of distinct keys (webhook
// paths come from outside) cannot starve one asked for earlier; a caller
// that gives up takes its key back. The statement runs under a context of
// its own — base, ended by Close, and readTimeout — not any one caller's,
// whose cancellation returns only that caller.
type sharedReads[K comparable, V any] struct {
	read     func(ctx context.Context, keys []K) (map[K]V, error)
	notFound error           // the answer for a key read finds no row of
	base     context.Context // ended when the store closes
	timeout  time.Duration   // of one statement; 0 is readTimeout

	mu      sync.Mutex
	waiting map[K][]chan<- sharedRead[V] // for the next statement
	order   []K                          // waiting's keys, oldest first
	reading bool
}

type sharedRead[V any] struct {
	v   V
	err error
}

// readTimeout bounds one shared statement.
const readTimeout = 10 * time.Second

// maxSharedKeys bounds one statement's IN list; more wait for the next.
const maxSharedKeys = 64

var errSharedReadTimeout = errors.New("a shared read exceeded its deadline")

func (r *sharedReads[K, V]) get(ctx context.Context, key K) (V, error) {
	var zero V
	if err := firstErr(ctx.Err(), r.closed()); err != nil {
		return zero, err
	}
	ch := make(chan sharedRead[V], 1)
	r.mu.Lock()
	if r.waiting == nil {
		r.waiting = map[K][]chan<- sharedRead[V]{}
	}
	if len(r.waiting[key]) == 0 {
		r.order = append(r.order, key)
	}
	r.waiting[key] = append(r.waiting[key], ch)
	start := !r.reading
	r.reading = true
	r.mu.Unlock()
	if start {
		go r.loop()
	}
	select {
	case res := <-ch:
		return res.v, res.err
	case <-ctx.Done():
		r.forget(key, ch)
		return zero, ctx.Err()
	}
}

// closed is the error of a read asked for after the store closed.
func (r *sharedReads[K, V]) closed() error {
	if r.base != nil && r.base.Err() != nil {
		return store.Unavailable(errStoreClosed)
	}
	return nil
}

// forget takes back a caller's wait that was not taken by a statement.
func (r *sharedReads[K, V]) forget(key K, ch chan<- sharedRead[V]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	chs := r.waiting[key]
	for i, c := range chs {
		if c == ch {
			chs = slices.Delete(chs, i, i+1)
			break
		}
	}
	if len(chs) > 0 {
		r.waiting[key] = chs
		return
	}
	delete(r.waiting, key)
	if i := slices.Index(r.order, key); i >= 0 {
		r.order = slices.Delete(r.order, i, i+1)
	}
}

// loop runs statements until nobody waits.
func (r *sharedReads[K, V]) loop() {
	for {
		r.mu.Lock()
		if len(r.order) == 0 {
			r.waiting, r.order, r.reading = nil, nil, false // a burst's memory goes with it
			r.mu.Unlock()
			return
		}
		keys := slices.Clone(r.order[:min(len(r.order), maxSharedKeys)])
		r.order = r.order[len(keys):]
		batch := make(map[K][]chan<- sharedRead[V], len(keys))
		for _, k := range keys {
			batch[k] = r.waiting[k]
			delete(r.waiting, k)
		}
		r.mu.Unlock()

		vals, err := r.readSafely(keys)
		for k, chs := range batch {
			v, found := vals[k]
			res := sharedRead[V]{v: v, err: err}
			if err == nil && !found {
				res.err = r.notFound
			}
			for _, ch := range chs {
				ch <- res
			}
		}
	}
}

// readSafely runs one statement: a panic in it is its callers' error, not
// the end of the process (it runs on no caller's goroutine), and its
// deadline is told apart from a caller's own.
func (r *sharedReads[K, V]) readSafely(keys []K) (vals map[K]V, err error) {
	base := r.base
	if base == nil {
		base = context.Background()
	}
	timeout := r.timeout
	if timeout == 0 {
		timeout = readTimeout
	}
	ctx, cancel := context.WithTimeoutCause(base, timeout, errSharedReadTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			vals, err = nil, fmt.Errorf("panic in a shared read: %v\n%s", p, debug.Stack())
		}
		if err != nil && ctx.Err() != nil { // the deadline or Close, whatever failed
			err = store.Unavailable(fmt.Errorf("%w (%w)", context.Cause(ctx), err))
		}
	}()
	return r.read(ctx, keys)
}

// sharedRevisions reads t's revisions through db, shared (sharedReads).
func sharedRevisions[T any](base context.Context, t *table[T], db execer) *sharedReads[uuid.UUID, int] {
	return &sharedReads[uuid.UUID, int]{base: base, read: func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error) {
		return t.revisions(ctx, db, ids)
	}, notFound: t.notFound}
}

// revisions reads the revisions of the rows among ids, in one statement.
func (t *table[T]) revisions(ctx context.Context, db execer, ids []uuid.UUID) (map[uuid.UUID]int, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id.String()
	}
	list, args := inList(1, args)
	rs, err := db.QueryContext(ctx, "SELECT id, revision FROM "+t.name+" WHERE id IN "+list, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	revs := make(map[uuid.UUID]int, len(ids))
	for rs.Next() {
		var id uuid.UUID
		var rev int
		if err := rs.Scan(dbUUID{&id}, &rev); err != nil {
			return nil, err
		}
		revs[id] = rev
	}
	return revs, rs.Err()
}

// routeKey is a webhook route's method (upper case) and path.
type routeKey struct{ method, path string }

// routeKeyOf is the key of a lookup, false when no route can hold such a
// value. Its strings are the store's own: a shared read may still hold
// the key after a caller that gave up has returned.
func routeKeyOf(method, path string) (routeKey, bool) {
	if !storable(method, path) {
		return routeKey{}, false
	}
	// ToUpper returns an upper-case method as it is: clone it first.
	return routeKey{strings.ToUpper(strings.Clone(method)), strings.Clone(path)}, true
}

// sharedRoutes reads webhook routes through db, shared (sharedReads).
func sharedRoutes(base context.Context, db execer) *sharedReads[routeKey, *flow.WebhookRoute] {
	return &sharedReads[routeKey, *flow.WebhookRoute]{base: base, notFound: flow.ErrWebhookNotFound,
		read: func(ctx context.Context, keys []routeKey) (map[routeKey]*flow.WebhookRoute, error) {
			// A power-of-two count of pairs (the last repeated), like inList:
			// few statement texts. Row values need VALUES on SQLite.
			n := 1 << bits.Len(uint(len(keys)-1))
			args := make([]any, 0, 2*n)
			pairs := make([]string, n)
			for i := range n {
				k := keys[min(i, len(keys)-1)]
				args = append(args, k.method, k.path)
				pairs[i] = fmt.Sprintf("($%d, $%d)", 2*i+1, 2*i+2)
			}
			rs, err := db.QueryContext(ctx, `SELECT method, path, workflow_id, node_id, verify_token FROM webhook_routes
				WHERE (method, path) IN (VALUES `+strings.Join(pairs, ", ")+`)`, args...)
			if err != nil {
				return nil, err
			}
			defer rs.Close()
			found := make(map[routeKey]*flow.WebhookRoute, len(keys))
			for rs.Next() {
				var r flow.WebhookRoute
				if err := rs.Scan(&r.Method, &r.Path, dbUUID{&r.WorkflowID}, &r.NodeID, &r.VerifyToken); err != nil {
					return nil, err
				}
				found[routeKey{r.Method, r.Path}] = &r
			}
			return found, rs.Err()
		}}
}
