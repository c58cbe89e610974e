package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
)

// sharedReads runs the revision reads asked for at the same time as one
// statement: every step reads its provider configuration's revision and
// every start its workflow's (so a change applies to the next step or
// start in every process), and under load hundreds a second ask for the
// same few rows. A caller's read joins the next statement, never one
// already running, so its answer was read after it asked: it sees every
// change committed before it asked, as a read of its own would.
//
// A reader goroutine runs while anyone waits; the statement runs under a
// context of its own (readTimeout), not any one caller's, whose
// cancellation returns only that caller.
type sharedReads struct {
	read     func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error)
	notFound error // the answer for an id read finds no row of

	mu      sync.Mutex
	waiting map[uuid.UUID][]chan<- sharedRead // for the next statement
	reading bool
}

type sharedRead struct {
	rev int
	err error
}

// readTimeout bounds one shared statement.
const readTimeout = 10 * time.Second

// maxSharedIDs bounds one statement's IN list; more wait for the next.
const maxSharedIDs = 64

func (r *sharedReads) get(ctx context.Context, id uuid.UUID) (int, error) {
	ch := make(chan sharedRead, 1)
	r.mu.Lock()
	if r.waiting == nil {
		r.waiting = map[uuid.UUID][]chan<- sharedRead{}
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
		return res.rev, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// loop runs statements until nobody waits.
func (r *sharedReads) loop() {
	for {
		r.mu.Lock()
		if len(r.waiting) == 0 {
			r.reading = false
			r.mu.Unlock()
			return
		}
		batch := make(map[uuid.UUID][]chan<- sharedRead, min(len(r.waiting), maxSharedIDs))
		for id, chs := range r.waiting {
			if len(batch) == maxSharedIDs {
				break
			}
			batch[id] = chs
			delete(r.waiting, id)
		}
		r.mu.Unlock()

		ids := make([]uuid.UUID, 0, len(batch))
		for id := range batch {
			ids = append(ids, id)
		}
		ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
		revs, err := r.read(ctx, ids)
		cancel()
		for id, chs := range batch {
			rev, found := revs[id]
			res := sharedRead{rev: rev, err: err}
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
func sharedRevisions[T any](t *table[T], db execer) *sharedReads {
	return &sharedReads{read: func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error) {
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
