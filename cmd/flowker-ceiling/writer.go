package main

import (
	"context"
	"errors"
	"time"
)

// writeKind is one of the three durable records of an execution.
type writeKind int

const (
	insertExecution writeKind = iota // the input, status running
	saveTracer                       // Tracer's answer
	finishExecution                  // Midaz's answer (or none), status completed or failed
)

// write is one record to commit; done receives the commit's outcome.
type write struct {
	kind    writeKind
	id      string
	at      time.Time
	json    []byte // the input, Tracer's answer or Midaz's answer (nil: Midaz not called)
	status  string // finishExecution: completed or failed
	errText string // finishExecution: why it failed
	done    chan error
}

// store commits a group of writes in one transaction.
type store interface {
	name() string
	commit(ctx context.Context, group []*write) error
	close() error
}

// commitTimeout bounds one group's transaction.
const commitTimeout = 30 * time.Second

var errStopped = errors.New("writer stopped")

// writer is the group commit: one goroutine takes every write queued while
// the previous group was committing and commits them together, so the
// number of transactions (and fsyncs) follows the store's speed, not the
// number of writes.
type writer struct {
	st       store
	queue    chan *write
	maxGroup int
	quit     chan struct{} // closed by close: stop taking writes
	stopped  chan struct{} // closed when the loop has returned
}

func newWriter(st store, maxGroup int) *writer {
	w := &writer{st: st, queue: make(chan *write, maxGroup), maxGroup: max(maxGroup, 1),
		quit: make(chan struct{}), stopped: make(chan struct{})}
	go w.loop()
	return w
}

// do queues wr and returns once it is committed (or its group failed).
func (w *writer) do(wr *write) error {
	wr.done = make(chan error, 1)
	select {
	case w.queue <- wr:
	case <-w.quit:
		return errStopped
	}
	select {
	case err := <-wr.done:
		return err
	case <-w.stopped:
		return errStopped
	}
}

func (w *writer) loop() {
	defer close(w.stopped)
	group := make([]*write, 0, w.maxGroup)
	for {
		select {
		case first := <-w.queue:
			group = append(group[:0], first)
		case <-w.quit:
			return
		}
	gather:
		for len(group) < w.maxGroup {
			select {
			case wr := <-w.queue:
				group = append(group, wr)
			default:
				break gather
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		err := w.st.commit(ctx, group)
		cancel()
		for _, wr := range group {
			wr.done <- err
		}
	}
}

// close stops the loop after the group being committed, then closes the
// store.
func (w *writer) close() {
	close(w.quit)
	<-w.stopped
	_ = w.st.close()
}
