package sqlstore

import "slices"

// maxCoalescedRows bounds one coalesced INSERT (PostgreSQL takes at most
// 65,535 parameters a statement; the steps' 12 columns make 3,072 here).
const maxCoalescedRows = 256

// coalesce is the queue a pipelined flush sends. Each caller's last queued
// statement, when it is a multi-row INSERT with no handler (insertRows),
// is taken out, and the rows of those into the same table and columns are
// sent as few statements (chunks of powers of two) where the last of them
// was. PostgreSQL then starts one statement — its plan, the table and each
// of its indexes opened, its triggers' bookkeeping — where it started one
// per caller: the writer's batch is that one backend's work, statement
// after statement.
//
// The order that can matter is kept. A caller's statements may depend on
// each other (the fenced update before the steps it protects), never on
// another caller's, and only a caller's last statement moves, later, past
// other callers' statements only: never past the batch's own that follow
// the callers' (the audit lock, taken after every insert by every writer;
// an insert waiting on another process's uncommitted key while holding it
// deadlocks with that process, TestCoalescedInsertLockOrder). A coalesced
// statement's failure is no one caller's: the batch then runs again with a
// savepoint per caller (errIsolate), which finds whose rows failed. queued
// is not changed, nor any statement's Args (an encoded progress write is
// sent again as it is on a retry).
func coalesce(queued []Pipelined, owners []int) []Pipelined {
	last := make(map[int]int, len(queued))
	for i, o := range owners {
		last[o] = i
	}
	movable := func(i int) bool {
		st := &queued[i]
		return st.Into != "" && st.Row == nil && st.Rows == nil && st.Tag == nil &&
			owners[i] >= 0 && last[owners[i]] == i
	}
	type group struct {
		into string
		cols int
		n    int   // statements
		last int   // where the last of them is queued
		args []any // their values, gathered as the queue is rewritten
	}
	var groups []*group
	find := func(st *Pipelined) *group {
		for _, g := range groups {
			if g.into == st.Into { // a table and its columns: the same count of them
				return g
			}
		}
		return nil
	}
	for i := range queued {
		if !movable(i) {
			continue
		}
		st := &queued[i]
		g := find(st)
		if g == nil {
			g = &group{into: st.Into, cols: st.Cols}
			groups = append(groups, g)
		}
		g.n++
		g.last = i
	}
	groups = slices.DeleteFunc(groups, func(g *group) bool { return g.n < 2 }) // nothing to share
	if len(groups) == 0 {
		return queued
	}
	out := make([]Pipelined, 0, len(queued))
	for i, st := range queued {
		var g *group
		if movable(i) {
			g = find(&st)
		}
		if g == nil {
			out = append(out, st)
			continue
		}
		g.args = append(g.args, st.Args...) // a copy: the first append is to nil
		if i != g.last {
			continue
		}
		for args := g.args; len(args) > 0; {
			n := rowChunk(len(args)/g.cols, maxCoalescedRows) * g.cols
			out = append(out, insertRows(g.into, g.cols, args[:n:n]))
			args = args[n:]
		}
	}
	return out
}
