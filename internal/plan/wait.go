package plan

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"flowker/internal/expr"
	"flowker/internal/flow"
)

// Limits of waiting nodes (docs/waiting.md).
const (
	MaxWaitDuration   = 366 * 24 * time.Hour // a deadline, timeout or delay
	MaxApprovals      = 5
	MaxDecisions      = 10
	maxReviewText     = 2000
	codeInvalidWait   = "FLK-0144"
	defaultReviewName = "Review"
)

// DefaultDecisions are a review's decisions when its node names none.
var DefaultDecisions = []string{flow.ApproveDecision, "reject"}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Wait is the compiled configuration of a review, wait_for_callback or
// delay node.
type Wait struct {
	Timeout time.Duration   // review deadline, callback timeout, delay duration; 0: none
	Until   *expr.Transform // delay: the context value holding the time to wait until

	Signal string // wait_for_callback: the signal name (the node id unless set)

	Title, Instructions string
	Context             *expr.Transform // review: what analysts see
	Decisions           []string
	RequiredApprovals   int
	Group               string
	DefaultDecision     string
}

func compileWait(n *Node) error {
	w := &Wait{}
	var err error
	switch n.Type {
	case flow.NodeReview:
		err = w.review(n)
	case flow.NodeWaitForCallback:
		w.Signal = n.ID
		if err = optionalName(n, "signal", &w.Signal); err == nil {
			w.Timeout, err = duration(n, "timeout")
		}
	case flow.NodeDelay:
		err = w.delay(n)
	}
	if err != nil {
		return err
	}
	n.Wait = w
	return nil
}

func (w *Wait) review(n *Node) error {
	w.Title, _ = n.Data["title"].(string)
	if w.Title == "" {
		w.Title = n.Name
	}
	if w.Title == "" {
		w.Title = defaultReviewName
	}
	w.Instructions, _ = n.Data["instructions"].(string)
	if len(w.Title) > maxReviewText || len(w.Instructions) > maxReviewText {
		return waitErr(n, "title and instructions are limited to %d characters", maxReviewText)
	}
	w.Decisions = DefaultDecisions
	if raw, ok := n.Data["decisions"]; ok {
		list, ok := raw.([]any)
		if !ok || len(list) == 0 || len(list) > MaxDecisions {
			return waitErr(n, "decisions must be a list of 1-%d names", MaxDecisions)
		}
		w.Decisions = nil
		for _, d := range list {
			s, ok := d.(string)
			if !ok || !namePattern.MatchString(s) || s == flow.TimeoutHandle || slices.Contains(w.Decisions, s) {
				return waitErr(n, "decision %s must be a distinct name of 1-64 letters, digits, '.', '_' or '-' (not %q)",
					quote(d), flow.TimeoutHandle)
			}
			w.Decisions = append(w.Decisions, s)
		}
	}
	w.RequiredApprovals = 1
	if raw, ok := n.Data["requiredApprovals"]; ok {
		f, ok := raw.(float64)
		if !ok || f != float64(int(f)) || f < 1 || f > MaxApprovals {
			return waitErr(n, "requiredApprovals must be a whole number from 1 to %d", MaxApprovals)
		}
		w.RequiredApprovals = int(f)
		if w.RequiredApprovals > 1 && !slices.Contains(w.Decisions, flow.ApproveDecision) {
			return waitErr(n, "requiredApprovals counts %q decisions, which decisions lacks", flow.ApproveDecision)
		}
	}
	if err := optionalName(n, "group", &w.Group); err != nil {
		return err
	}
	var err error
	if w.Timeout, err = duration(n, "deadline"); err != nil {
		return err
	}
	w.DefaultDecision, _ = n.Data["defaultDecision"].(string)
	switch {
	case w.Timeout > 0 && w.DefaultDecision == "":
		return waitErr(n, "a deadline needs a defaultDecision, taken when it passes")
	case w.DefaultDecision != "" && !slices.Contains(w.Decisions, w.DefaultDecision):
		return waitErr(n, "defaultDecision %q is not one of decisions %v", w.DefaultDecision, w.Decisions)
	case w.DefaultDecision == flow.ApproveDecision && w.RequiredApprovals > 1:
		// A deadline must not approve what needs two people with none.
		return waitErr(n, "defaultDecision cannot be %q when requiredApprovals is %d: the deadline would bypass four-eyes",
			flow.ApproveDecision, w.RequiredApprovals)
	}
	if raw, ok := n.Data["context"]; ok && raw != nil {
		m, err := expr.ParseMappingsAs("context", raw)
		if err == nil && len(m) > 0 {
			w.Context, err = expr.CompileMappingsAs("context", m)
		}
		if err != nil {
			return waitErr(n, "invalid context: %v", err)
		}
	}
	return nil
}

func (w *Wait) delay(n *Node) error {
	var err error
	if w.Timeout, err = duration(n, "duration"); err != nil {
		return err
	}
	until, _ := n.Data["until"].(string)
	if (until == "") == (w.Timeout == 0) {
		return waitErr(n, "a delay needs exactly one of duration (e.g. \"15m\") and until (a context path to an RFC 3339 time, e.g. \"workflow.releaseAt\")")
	}
	if until != "" {
		w.Until, err = expr.CompileMappingsAs("until", []expr.FieldMapping{{Source: until, Target: "until", Required: true}})
		if err != nil {
			return waitErr(n, "invalid until: %v", err)
		}
	}
	return nil
}

// checkWaits requires every edge out of a review to name one of its
// decisions, and an edge out of a wait_for_callback to be its timeout path
// or unnamed: a misspelt handle would otherwise silently never be taken.
// A signal name belongs to one node: a callback must not be ambiguous.
func checkWaits(p *Plan) error {
	signals := map[string]string{}
	for _, n := range p.Order {
		if n.Wait == nil {
			continue
		}
		if n.Type == flow.NodeWaitForCallback {
			if other, ok := signals[n.Wait.Signal]; ok {
				return waitErr(n, "signal %q is already the signal of node %q", n.Wait.Signal, other)
			}
			signals[n.Wait.Signal] = n.ID
		}
		for _, e := range n.Out {
			switch {
			case n.Type == flow.NodeReview && !slices.Contains(n.Wait.Decisions, e.SourceHandle):
				return flow.Invalidf(codeInvalidWait, "edge %q: sourceHandle %q of review node %q must be one of its decisions %v",
					e.ID, e.SourceHandle, n.ID, n.Wait.Decisions)
			case n.Type == flow.NodeWaitForCallback && e.SourceHandle != "" && e.SourceHandle != flow.TimeoutHandle:
				return flow.Invalidf(codeInvalidWait, "edge %q: sourceHandle of wait_for_callback node %q must be %q or empty",
					e.ID, n.ID, flow.TimeoutHandle)
			}
		}
	}
	return nil
}

func duration(n *Node, key string) (time.Duration, error) {
	raw, ok := n.Data[key]
	if !ok || raw == nil || raw == "" {
		return 0, nil
	}
	s, _ := raw.(string)
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > MaxWaitDuration {
		return 0, waitErr(n, "%s must be a positive duration up to %s such as \"90s\", \"15m\" or \"48h\", got %s",
			key, MaxWaitDuration, quote(raw))
	}
	return d, nil
}

func optionalName(n *Node, key string, dst *string) error {
	raw, ok := n.Data[key]
	if !ok || raw == nil || raw == "" {
		return nil
	}
	s, _ := raw.(string)
	if !namePattern.MatchString(s) {
		return waitErr(n, "%s must be 1-64 letters, digits, '.', '_' or '-', got %s", key, quote(raw))
	}
	*dst = s
	return nil
}

func waitErr(n *Node, format string, args ...any) error {
	return flow.Invalidf(codeInvalidWait, "node %q: %s", n.ID, fmt.Sprintf(format, args...))
}

func quote(v any) string { return fmt.Sprintf("%#v", v) }
