package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/plan"
	"flowker/internal/secret"
	"flowker/internal/store"
	"flowker/internal/waits"
)

// Waiting (docs/waiting.md). A review, wait_for_callback or delay node the
// graph reaches is resolved at once when what it waits for is already
// there (a callback that came early, a decision or timer from before a
// restart, a delay already due); otherwise it is parked: a wait row is
// written with the next save, and when nothing else is in flight the
// execution becomes waiting and its worker, goroutine and lease are freed.
// A decision, callback or due timer wakes it; it then runs again from its
// persisted steps and finds the wait resolved.

// waitState is what a run knows of its execution's waits, read on the
// first wait node reached (most executions never reach one). The signals
// are read again when a wait_for_callback node is reached later (see
// arrive): a callback may come at any time before its node.
type waitState struct {
	loaded  bool
	latest  map[string]*flow.Wait // per node, its current wait (see currentWait)
	signals map[string]*flow.Signal
	parked  map[string]*plan.Node
	opened  []flow.Wait    // new waits, written with the next save
	events  []*audit.Event // their audit events
	// resolved are open rows of callbacks whose signal came unseen by the
	// service (before the row was written): closed with the next save.
	resolved []flow.Wait
}

// executionVars is the execution's own part of the context: its id and
// the callback URL of each wait_for_callback node, for a call to hand to
// a provider ({{execution.callbacks.kyc_wait}}).
func (e *Engine) executionVars(p *plan.Plan, id uuid.UUID) map[string]any {
	vars := map[string]any{"id": id.String()}
	if len(p.Callbacks) == 0 {
		return vars
	}
	callbacks := make(map[string]any, len(p.Callbacks))
	for _, n := range p.Callbacks {
		callbacks[n.ID] = e.opts.CallbackBaseURL + "/v1/callbacks/" + e.box.CallbackToken(id, n.ID)
	}
	vars["callbacks"] = callbacks
	return vars
}

// loadWaits reads the execution's waits and signals.
func (r *run) loadWaits(ctx context.Context, tx store.Tx) error {
	ws, err := tx.ListWaits(ctx, r.ex.ID)
	if err != nil {
		return err
	}
	if err := r.loadSignals(ctx, tx); err != nil {
		return err
	}
	r.w.latest = map[string]*flow.Wait{}
	for i := range ws {
		r.w.latest[ws[i].NodeID] = currentWait(r.w.latest[ws[i].NodeID], &ws[i])
	}
	for _, w := range r.w.opened { // not yet written: still ours
		r.w.latest[w.NodeID] = &w
	}
	r.w.loaded = true
	return nil
}

// loadSignals reads the execution's signals.
func (r *run) loadSignals(ctx context.Context, tx store.Tx) error {
	sigs, err := tx.ListSignals(ctx, r.ex.ID)
	if err != nil {
		return err
	}
	r.w.signals = make(map[string]*flow.Signal, len(sigs))
	for i := range sigs {
		r.w.signals[sigs[i].Name] = &sigs[i]
	}
	return nil
}

// currentWait is which of two waits of one node is the node's current
// one (the list comes oldest first, next). A node has at most one open
// wait (a unique index), which wins; a wait an attempt closed (resolved,
// expired) wins over one cancelled with an earlier attempt, whose retry
// waited afresh; between equals the later one wins. By status, not by
// created_at alone: a retry served by a process whose clock is behind
// stamps its wait before the cancelled one, which must not replace it
// (the retry's decision would be ignored and a new review opened).
func currentWait(prev, next *flow.Wait) *flow.Wait {
	if prev == nil || waitRank(next) >= waitRank(prev) {
		return next
	}
	return prev
}

func waitRank(w *flow.Wait) int {
	switch w.Status {
	case flow.WaitOpen:
		return 2
	case flow.WaitCancelled:
		return 0
	default: // resolved or expired
		return 1
	}
}

// arrive resolves or parks the wait nodes the graph reached. A store
// error is returned (transient: the attempt is retried later), the nodes
// not yet handled kept for the next attempt.
func (r *run) arrive(ctx context.Context) error {
	arrived := r.g.takeArrived()
	fresh := false // read in this call: current
	for i, n := range arrived {
		var err error
		switch {
		case !r.w.loaded:
			err = r.loadWaits(ctx, r.e.store)
			fresh = true
		case !fresh && r.staleSignal(n):
			// The signals were read at an earlier wait node: a callback that
			// came since (before its node was reached: kept, and answered 202)
			// must be used now, not lose to the timeout of a wait opened
			// without it.
			err = r.loadSignals(ctx, r.e.store)
			fresh = true
		}
		if err != nil {
			r.g.arrived = append(r.g.arrived, arrived[i:]...) // not lost: arrive again on the next attempt
			return err
		}
		r.arriveAt(n)
	}
	return nil
}

// staleSignal reports whether reaching n needs the signals read again: a
// wait_for_callback node whose signal is not known and whose wait is not
// closed (an open wait may have been resolved by the signal meanwhile; a
// park reads both again anyway).
func (r *run) staleSignal(n *plan.Node) bool {
	if n.Type != flow.NodeWaitForCallback || r.w.signals[n.Wait.Signal] != nil {
		return false
	}
	w := r.w.latest[n.ID]
	return w == nil || w.Open() || w.Status == flow.WaitCancelled
}

func (r *run) arriveAt(n *plan.Node) {
	now := r.e.now()
	w := r.w.latest[n.ID]
	if w != nil && w.Status == flow.WaitCancelled {
		w = nil // cancelled with an earlier attempt: this attempt waits afresh
	}
	switch {
	case w != nil && !w.Open():
		r.g.pass(n, waitStep(n, w, w.Output, now), w.Handle)
		return
	case n.Type == flow.NodeWaitForCallback && r.w.signals[n.Wait.Signal] != nil:
		sig := r.w.signals[n.Wait.Signal]
		if w == nil {
			w = &flow.Wait{ID: flow.NewID(), CreatedAt: now}
		} else if w.Open() { // its row was written after the signal had come: it would stay open
			waits.Receive(w, sig)
			r.w.resolved = append(r.w.resolved, *w)
		}
		r.g.pass(n, waitStep(n, w, sig.Payload, now), "")
		return
	}
	if w != nil { // open: it stays parked
		r.w.parked[n.ID] = n
		return
	}
	w = &flow.Wait{ID: flow.NewID(), ExecutionID: r.ex.ID, WorkflowID: r.ex.WorkflowID, NodeID: n.ID, Kind: n.Type,
		Status: flow.WaitOpen, Signal: n.Wait.Signal, CreatedAt: now}
	if n.Wait.Timeout > 0 {
		due := now.Add(n.Wait.Timeout)
		w.DueAt = &due
	}
	switch n.Type {
	case flow.NodeDelay:
		if n.Wait.Until != nil {
			due, err := untilTime(n, r.g.vars)
			if err != nil {
				r.g.complete(n, failedStep(n, now, err), nil)
				return
			}
			w.DueAt = &due
		}
		if !w.DueAt.After(now) { // already due: no need to wait
			r.g.pass(n, waitStep(n, w, map[string]any{"firedAt": now, "dueAt": *w.DueAt}, now), "")
			return
		}
	case flow.NodeReview:
		task, err := reviewTask(n, r.g.vars)
		if err != nil {
			r.g.complete(n, failedStep(n, now, err), nil)
			return
		}
		w.Review = task
	}
	r.w.opened = append(r.w.opened, *w)
	r.w.latest[n.ID] = w
	r.w.events = append(r.w.events, waits.Event(context.Background(), now, audit.WaitOpened, "CREATE", w, nil))
	r.w.parked[n.ID] = n
}

// park makes the execution waiting, unless something it waits for arrived
// meanwhile: then it reports false and the parked nodes are reached again.
// The progress write takes the execution's row first, so a decision or
// callback committed after the check below finds the execution waiting.
func (r *run) park(ctx context.Context) (parked bool, err error) {
	r.pending = append(r.pending, r.g.takeRecorded()...)
	err = r.save(ctx, nil, func(tx store.Tx) error {
		parked = false
		if ex, err := tx.LockExecution(ctx, r.ex.ID, false); err != nil || ex.CancelRequested {
			return err // a cancel was requested: the save reports it and the run ends cancelled
		}
		if err := r.loadWaits(ctx, tx); err != nil {
			return err
		}
		for _, n := range r.w.parked {
			w := r.w.latest[n.ID]
			if (w != nil && !w.Open() && w.Status != flow.WaitCancelled) ||
				(n.Type == flow.NodeWaitForCallback && r.w.signals[n.Wait.Signal] != nil) {
				return nil // arrived: go on instead
			}
		}
		parked = true
		return tx.ParkExecution(ctx, r.e.opts.Owner, r.ex.ID, r.e.now())
	})
	if err != nil || parked {
		return parked, err
	}
	for id, n := range r.w.parked {
		delete(r.w.parked, id)
		r.g.arrived = append(r.g.arrived, n)
	}
	return false, nil
}

// saveWaits writes the waits opened since the last save, with their
// events, in the save's transaction.
func (r *run) saveWaits(ctx context.Context, tx store.Tx) error {
	for i := range r.w.resolved {
		if _, err := tx.ResolveWait(ctx, &r.w.resolved[i]); err != nil {
			return err
		}
	}
	if len(r.w.opened) == 0 {
		return nil
	}
	if err := tx.SaveWaits(ctx, r.w.opened); err != nil {
		return err
	}
	for _, event := range r.w.events {
		ev := *event
		if err := tx.AppendAudit(ctx, &ev); err != nil {
			return err
		}
	}
	return nil
}

// closeWaits cancels the waits still open when the execution ends (a
// branch failed or it was cancelled while another branch waited), so no
// review stays in an inbox for an execution that is over. Any wait node
// reached counts, not only those parked now: a park that found a cancel
// requested elsewhere hands its nodes back, with their rows written.
func (r *run) closeWaits(tx store.Tx) error {
	if !r.w.loaded {
		return nil
	}
	ctx := context.Background()
	closed, err := tx.CancelWaits(ctx, r.ex.ID, r.e.now())
	if err != nil {
		return err
	}
	for i := range closed {
		if err := tx.AppendAudit(ctx, waits.Event(ctx, r.e.now(), audit.WaitCancelled, "CANCEL", &closed[i], nil)); err != nil {
			return err
		}
	}
	return nil
}

// waitStep is the step of a wait node that passed.
func waitStep(n *plan.Node, w *flow.Wait, out any, now time.Time) flow.Step {
	st := flow.Step{NodeID: n.ID, Name: stepName(n), Status: flow.StepCompleted, Output: out,
		StartedAt: w.CreatedAt, CompletedAt: now,
		CallDetails: map[string]any{"waitId": w.ID.String(), "handle": w.Handle, "waitStatus": string(w.Status)}}
	if w.Status == "" {
		st.CallDetails["waitStatus"] = string(flow.WaitResolved)
	}
	if w.ResolvedAt != nil {
		st.CompletedAt = *w.ResolvedAt
	}
	if st.StartedAt.IsZero() || st.StartedAt.After(st.CompletedAt) {
		st.StartedAt = st.CompletedAt
	}
	switch n.Type {
	case flow.NodeWaitForCallback:
		st.Input = map[string]any{"signal": n.Wait.Signal}
	case flow.NodeReview:
		if w.Review != nil {
			st.Input = map[string]any{"title": w.Review.Title, "context": w.Review.Context}
		}
	}
	return st
}

func failedStep(n *plan.Node, now time.Time, err error) flow.Step {
	return flow.Step{NodeID: n.ID, Name: stepName(n), Status: flow.StepFailed, ErrorMessage: stepError(err),
		StartedAt: now, CompletedAt: now}
}

// reviewTask builds what analysts see: the node's texts and its context
// mapping over the execution context, with secrets masked by name.
func reviewTask(n *plan.Node, vars map[string]any) (*flow.ReviewTask, error) {
	w := n.Wait
	task := &flow.ReviewTask{Title: w.Title, Instructions: w.Instructions, Context: map[string]any{},
		Decisions: w.Decisions, RequiredApprovals: w.RequiredApprovals, Group: w.Group,
		DefaultDecision: w.DefaultDecision}
	if w.Context != nil {
		out, err := w.Context.Apply(vars)
		if err != nil {
			return nil, fmt.Errorf("review context: %w", err)
		}
		m, _ := out.(map[string]any)
		task.Context = secret.Mask(m, secret.Policy{})
	}
	return task, nil
}

// untilTime reads a delay's until value: an RFC 3339 time in UTC years
// 0001–9999 (flow.ParseInstant: later ones SQLite would sort as past).
func untilTime(n *plan.Node, vars map[string]any) (time.Time, error) {
	out, err := n.Wait.Until.Apply(vars)
	if err != nil {
		return time.Time{}, fmt.Errorf("until: %w", err)
	}
	m, _ := out.(map[string]any)
	s, _ := m["until"].(string)
	t, err := flow.ParseInstant(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("until: %#v is not an RFC 3339 time between years 0001 and 9999 (UTC)", m["until"])
	}
	return t.UTC().Truncate(time.Microsecond), nil
}
