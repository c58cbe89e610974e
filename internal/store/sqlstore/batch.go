package sqlstore

import (
	"context"
	"fmt"

	"flowker/internal/store"
)

// maxBatch bounds how many callers share one transaction.
const maxBatch = 256

type batchReq struct {
	fn   func(store.Tx) error
	done chan error
}

// Batch queues fn for the group-commit loop and waits for its outcome. A
// lone caller is committed at once; under load, callers that arrive while a
// commit is in flight share the next one.
func (s *DB) Batch(ctx context.Context, fn func(store.Tx) error) error {
	req := &batchReq{fn: fn, done: make(chan error, 1)}
	select {
	case s.batches <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return fmt.Errorf("store closed")
	}
	// Once queued, wait for the outcome even if ctx ends: the caller must
	// know whether its write committed.
	return <-req.done
}

// batchLoop runs until Close: take one request, add whatever else is
// waiting, commit them together.
func (s *DB) batchLoop() {
	defer close(s.loopDone)
	for {
		var first *batchReq
		select {
		case first = <-s.batches:
		case <-s.closed:
			for { // answer whoever is still queued
				select {
				case r := <-s.batches:
					r.done <- fmt.Errorf("store closed")
				default:
					return
				}
			}
		}
		reqs := []*batchReq{first}
	drain:
		for len(reqs) < maxBatch {
			select {
			case r := <-s.batches:
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		s.commitBatch(reqs)
	}
}

// commitBatch runs each request in its own savepoint of one transaction.
// If the transaction itself fails, each request is retried alone so one
// bad request cannot fail its neighbours.
func (s *DB) commitBatch(reqs []*batchReq) {
	results, err := s.runBatch(reqs)
	if err == nil {
		for i, r := range reqs {
			r.done <- results[i]
		}
		return
	}
	if len(reqs) == 1 {
		reqs[0].done <- err
		return
	}
	for _, r := range reqs {
		s.commitBatch([]*batchReq{r})
	}
}

func (s *DB) runBatch(reqs []*batchReq) (results []error, err error) {
	ctx := context.Background() // queued work is not abandoned with its caller
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	q := &queries{r: tx, w: tx, d: s.d}
	results = make([]error, len(reqs))
	for i, r := range reqs {
		if _, err = tx.ExecContext(ctx, "SAVEPOINT batch_item"); err != nil {
			return nil, err
		}
		if results[i] = r.fn(q); results[i] != nil {
			if _, err = tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT batch_item"); err != nil {
				return nil, err
			}
		}
		if _, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT batch_item"); err != nil {
			return nil, err
		}
	}
	return results, tx.Commit()
}
