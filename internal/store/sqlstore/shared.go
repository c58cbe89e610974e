package sqlstore

import (
	"context"
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
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
// A reader goroutine runs while anyone waits; the statement runs under a
// context of its own (readTimeout), not any one caller's, whose
// cancellation returns only that caller.
type sharedReads[K comparable, V any] struct {
	read     func(ctx context.Context, keys []K) (map[K]V, error)
	notFound error // the answer for a key read finds no row of

	mu      sync.Mutex
	waiting map[K][]chan<- sharedRead[V] // for the next statement
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

func (r *sharedReads[K, V]) get(ctx context.Context, id K) (V, error) {
	ch := make(chan sharedRead[V], 1)
	r.mu.Lock()
	if r.waiting == nil {
		r.waiting = map[K][]chan<- sharedRead[V]{}
	}
	r.waiting[id] = append(r.waiting[id], ch)
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
		var zero V
		return zero, ctx.Err()
	}
}

// loop runs statements until nobody waits.
func (r *sharedReads[K, V]) loop() {
	for {
		r.mu.Lock()
		if len(r.waiting) == 0 {
			r.reading = false
			r.mu.Unlock()
			return
		}
		batch := make(map[K][]chan<- sharedRead[V], min(len(r.waiting), maxSharedKeys))
		for id, chs := range r.waiting {
			if len(batch) == maxSharedKeys {
				break
			}
			batch[id] = chs
			delete(r.waiting, id)
		}
		r.mu.Unlock()

		ids := make([]K, 0, len(batch))
		for id := range batch {
			ids = append(ids, id)
		}
		ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
		revs, err := r.read(ctx, ids)
		cancel()
		for id, chs := range batch {
			v, found := revs[id]
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

// sharedRevisions reads t's revisions through db, shared (sharedReads).
func sharedRevisions[T any](t *table[T], db execer) *sharedReads[uuid.UUID, int] {
	return &sharedReads[uuid.UUID, int]{read: func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error) {
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

// sharedRoutes reads webhook routes through db, shared (sharedReads).
func sharedRoutes(db execer) *sharedReads[routeKey, *flow.WebhookRoute] {
	return &sharedReads[routeKey, *flow.WebhookRoute]{notFound: flow.ErrWebhookNotFound,
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
