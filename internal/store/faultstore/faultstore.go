// Package faultstore wraps a store.Store to inject faults into chosen
// methods, for tests of the layers above the store: a method fails once,
// fails every time, or hangs until its context ends. Calls are counted and
// signalled, so a test waits for "the engine called SaveProgress", not for
// a sleep.
//
// Methods are named as in store.Store and store.Tx ("GetExecution",
// "SaveProgress", "Batch", "InTx", "Ping", "Close"…). A fault applies to
// the method wherever it is called: on the wrapper itself and on the Tx
// that InTx and Batch hand to their callbacks. A fault inside a Batch
// callback holds the shared group-commit transaction while it hangs, as a
// hung statement would.
package faultstore

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
)

// Mode is how an armed fault behaves.
type Mode int

const (
	// Once fails the next call with the fault's error, then disarms.
	Once Mode = iota
	// Always fails every call with the fault's error until Clear.
	Always
	// Hang blocks every call until its context is done (the call then
	// returns context.Cause(ctx)) or Clear is called (the call then goes
	// through to the wrapped store).
	Hang
	// LostAnswer, for Batch and InTx, lets the next call go through —
	// its transaction commits — then answers it the fault's error, and
	// disarms: a COMMIT whose answer was lost.
	LostAnswer
)

// signalBuffer is how many unread Called signals a method keeps.
const signalBuffer = 64

// Store is a store.Store that forwards every call to the wrapped store,
// except the faults armed with Fail. Safe for concurrent use.
type Store struct {
	tx      // the store.Tx methods, on the wrapped store
	s       store.Store
	mu      sync.Mutex
	faults  map[string]*fault
	calls   map[string]int
	signals map[string]chan struct{}
	watches map[string]func(context.Context)
}

var _ store.Store = (*Store)(nil)

type fault struct {
	mode    Mode
	err     error
	release chan struct{} // Hang: closed when the fault is cleared or replaced
}

// Wrap returns a store.Store that forwards every call to s, except the
// faults armed with Fail.
func Wrap(s store.Store) *Store {
	f := &Store{s: s, faults: map[string]*fault{}, calls: map[string]int{}, signals: map[string]chan struct{}{},
		watches: map[string]func(context.Context){}}
	f.tx = tx{f: f, t: s}
	return f
}

// Fail arms a fault on method, replacing any fault armed on it (calls
// hanging on a replaced Hang fault go through). err is what Once and
// Always return; Hang ignores it.
func (s *Store) Fail(method string, mode Mode, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disarm(method)
	f := &fault{mode: mode, err: err}
	if mode == Hang {
		f.release = make(chan struct{})
	}
	s.faults[method] = f
}

// Clear disarms method's fault; calls hanging on it go through.
func (s *Store) Clear(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disarm(method)
}

func (s *Store) disarm(method string) {
	if f := s.faults[method]; f != nil && f.release != nil {
		close(f.release)
	}
	delete(s.faults, method)
}

// Calls counts calls to method so far, including failed ones.
func (s *Store) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Called returns a channel that receives each time method is entered
// (before any fault acts; buffered, signals beyond the buffer are dropped).
func (s *Store) Called(method string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signal(method)
}

// Watch has fn called with the caller's context on every call to method
// from now on (before any fault acts): what a caller passed along with it,
// such as a catalog view. It replaces any earlier watch of method.
func (s *Store) Watch(method string, fn func(context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watches[method] = fn
}

func (s *Store) signal(method string) chan struct{} {
	ch, ok := s.signals[method]
	if !ok {
		ch = make(chan struct{}, signalBuffer)
		s.signals[method] = ch
	}
	return ch
}

// enter counts and signals a call to method and applies its fault: it
// returns the error the call must fail with, or nil to go through.
func (s *Store) enter(ctx context.Context, method string) error {
	err, _ := s.enterLosing(ctx, method)
	return err
}

// enterLosing is enter that also returns the error to answer once the
// call went through (LostAnswer).
func (s *Store) enterLosing(ctx context.Context, method string) (err, lost error) {
	s.mu.Lock()
	s.calls[method]++
	ch := s.signal(method)
	watch := s.watches[method]
	var release chan struct{}
	if f := s.faults[method]; f != nil {
		switch f.mode {
		case Once:
			err = f.err
			delete(s.faults, method)
		case LostAnswer:
			lost = f.err
			delete(s.faults, method)
		case Always:
			err = f.err
		case Hang:
			release = f.release
		}
	}
	s.mu.Unlock()
	if watch != nil {
		watch(ctx)
	}
	select {
	case ch <- struct{}{}:
	default:
	}
	if release != nil {
		select {
		case <-ctx.Done():
			return context.Cause(ctx), nil
		case <-release:
		}
	}
	return err, lost
}

// InTx runs fn in a transaction of the wrapped store, with a Tx whose
// methods carry the armed faults.
func (s *Store) InTx(ctx context.Context, fn func(store.Tx) error) error {
	err, lost := s.enterLosing(ctx, "InTx")
	if err != nil {
		return err
	}
	return answer(s.s.InTx(ctx, func(t store.Tx) error { return fn(tx{f: s, t: t}) }), lost)
}

// Batch is the wrapped store's group commit, with a Tx whose methods
// carry the armed faults.
func (s *Store) Batch(ctx context.Context, fn func(store.Tx) error) error {
	err, lost := s.enterLosing(ctx, "Batch")
	if err != nil {
		return err
	}
	return answer(s.s.Batch(ctx, func(t store.Tx) error { return fn(tx{f: s, t: t}) }), lost)
}

// answer is what a transaction's caller is told: its error, or lost if it
// committed and a LostAnswer fault was armed.
func answer(err, lost error) error {
	if err == nil {
		return lost
	}
	return err
}

// Ping forwards to the wrapped store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.enter(ctx, "Ping"); err != nil {
		return err
	}
	return s.s.Ping(ctx)
}

// Close closes the wrapped store (a Hang fault on it waits for Clear).
func (s *Store) Close() error {
	if err := s.enter(context.Background(), "Close"); err != nil {
		return err
	}
	return s.s.Close()
}

// Driver names the wrapped store's database; it is counted and
// signalled, never failed (it has no error to return).
func (s *Store) Driver() string {
	s.mu.Lock()
	s.calls["Driver"]++
	ch := s.signal("Driver")
	s.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
	return s.s.Driver()
}

// AuditKey is the wrapped store's; it has no error to fail with.
func (s *Store) AuditKey() audit.Key { return s.s.AuditKey() }

// ExecutionWithSteps carries the "ExecutionWithSteps" faults.
func (s *Store) ExecutionWithSteps(ctx context.Context, id uuid.UUID) (*flow.Execution, []flow.Step, error) {
	if err := s.enter(ctx, "ExecutionWithSteps"); err != nil {
		return nil, nil, err
	}
	return s.s.ExecutionWithSteps(ctx, id)
}

// EncodeExecution forwards to the wrapped store: it only encodes (no I/O),
// and the insert it prepares carries the "CreateExecution" faults.
func (s *Store) EncodeExecution(e *flow.Execution) (store.NewExecution, error) {
	return s.s.EncodeExecution(e)
}

// EncodeProgress forwards to the wrapped store: it only encodes (no I/O),
// and the write it prepares carries the "SaveProgress" faults.
func (s *Store) EncodeProgress(owner string, e *flow.Execution, steps []flow.Step) (store.Progress, error) {
	return s.s.EncodeProgress(owner, e, steps)
}
