package engine

import (
	"container/list"
	"sync"

	"github.com/google/uuid"

	"flowker/internal/plan"
)

// Calls in flight per call target — a provider configuration or an
// executor configuration, the circuit breaker's key — are bounded by
// Options.ProviderConcurrency, so 10,000 executions calling one provider
// do not open 10,000 connections to it. A call that finds its target full
// takes a ticket and waits in the target's queue (first come, first
// served) without a goroutine: its run is resumed when the ticket is
// granted (calls.go).

// targetSlots is the process's slots, one queue per target. Safe for
// concurrent use.
type targetSlots struct {
	limit   int
	mu      sync.Mutex
	targets map[string]*targetQueue // only targets with a call in flight or waiting
}

type targetQueue struct {
	key     string
	busy    int       // granted tickets not yet released
	waiting list.List // of *slotTicket, oldest first
}

type ticketState int8

const (
	ticketQueued ticketState = iota
	ticketGranted
	ticketReleased // released after its call, or withdrawn
)

// slotTicket is one call's claim on a slot of its target. Its fields are
// guarded by targetSlots.mu; the run that took it is its only user.
type slotTicket struct {
	q       *targetQueue // its target's (shared: a ticket keeps no key of its own)
	state   ticketState
	elem    *list.Element // its place in the queue while queued
	onGrant func()        // called (without the lock) when a queued ticket is granted
}

func newTargetSlots(limit int) *targetSlots {
	return &targetSlots{limit: limit, targets: map[string]*targetQueue{}}
}

// take grants a ticket for key at once when the target has room and no
// one waits, else queues it; onGrant is called when a queued ticket is
// granted later. onGrant must not block.
func (s *targetSlots) take(key string, onGrant func()) *slotTicket {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.targets[key]
	if q == nil {
		q = &targetQueue{key: key}
		s.targets[key] = q
	}
	t := &slotTicket{q: q, onGrant: onGrant}
	if q.busy < s.limit && q.waiting.Len() == 0 {
		q.busy++
		t.state = ticketGranted
		return t
	}
	t.elem = q.waiting.PushBack(t)
	return t
}

// granted reports whether t holds a slot.
func (s *targetSlots) granted(t *slotTicket) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return t.state == ticketGranted
}

// release gives up t: a granted ticket's slot passes to the oldest waiting
// ticket of its target (or becomes free); a queued ticket leaves the queue.
// Releasing twice does nothing.
func (s *targetSlots) release(t *slotTicket) {
	s.mu.Lock()
	q := t.q
	var next *slotTicket
	switch t.state {
	case ticketQueued:
		q.waiting.Remove(t.elem)
	case ticketGranted:
		if front := q.waiting.Front(); front != nil {
			next = q.waiting.Remove(front).(*slotTicket)
			next.state, next.elem = ticketGranted, nil // the slot passes on: busy stays
		} else {
			q.busy--
		}
	case ticketReleased:
		s.mu.Unlock()
		return
	}
	t.state, t.elem = ticketReleased, nil
	if q.busy == 0 && q.waiting.Len() == 0 {
		delete(s.targets, q.key) // a later take makes a new queue; tickets of this one are all released
	}
	s.mu.Unlock()
	if next != nil {
		next.onGrant()
	}
}

// inFlight is the number of granted tickets of key (for tests).
func (s *targetSlots) inFlight(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.targets[key]; q != nil {
		return q.busy
	}
	return 0
}

// targetKey names the target an executor node calls, without reading
// anything: its executor configuration or provider configuration, as
// the node names it. It is the circuit breaker's key as well.
func targetKey(n *plan.Node) string {
	if raw, ok := n.Data["executorConfigId"].(string); ok {
		return "executor_config:" + normalID(raw)
	}
	raw, _ := n.Data["providerConfigId"].(string)
	return "provider_config:" + normalID(raw)
}

// normalID spells a UUID the one way (a node may write it in capitals).
func normalID(raw string) string {
	if id, err := uuid.Parse(raw); err == nil {
		return id.String()
	}
	return raw
}
