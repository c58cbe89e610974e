package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

// Dashboard counts.

func (q *queries) CountWorkflowsByStatus(ctx context.Context) (map[flow.WorkflowStatus]int64, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT status, count(*) FROM workflows GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[flow.WorkflowStatus]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[flow.WorkflowStatus(s)] = n
	}
	return out, rows.Err()
}

// CountExecutionsByStatus counts executions started in [from, to], both
// inclusive (the API's promise), from the rollups (counts.go): whole days,
// then whole slots, then the executions themselves only in the partial
// slots at the edges, so its cost does not grow with the range.
func (q *queries) CountExecutionsByStatus(ctx context.Context, from, to *time.Time, status flow.ExecutionStatus) (map[flow.ExecutionStatus]int64, error) {
	var lo, hi *time.Time // [lo, hi) at the stored precision
	if from != nil {
		t := ceilMicro(*from)
		lo = &t
	}
	if to != nil {
		if end := to.UTC().Truncate(time.Microsecond); end.Before(flow.MaxInstant) { // else nothing stored is later: no bound
			end = end.Add(time.Microsecond)
			hi = &end
		}
	}
	var b countQuery
	p := splitRange(lo, hi, true, time.Now())
	if p.days != nil {
		b.rollup(countsByDay, *p.days)
	}
	for _, s := range p.slots {
		b.rollup(countsBySlot, s)
	}
	b.changesAndRaw(p)
	out := map[flow.ExecutionStatus]int64{}
	if len(b.parts) == 0 {
		return out, nil
	}
	rows, err := q.r.QueryContext(ctx, b.sql(), b.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var total statusCounts
	for rows.Next() {
		var part statusCounts
		if err := rows.Scan(part.dest()...); err != nil {
			return nil, err
		}
		total.add(&part)
	}
	for i, s := range countedStatuses {
		if total[i] != 0 && (status == "" || status == s) {
			out[s] = total[i]
		}
	}
	return out, rows.Err()
}

// CountExecutionsBySlot counts by slot from the slot rollups (of one
// workflow, or of all), and from the executions themselves in the partial
// slots at the edges of [from, to): a long range costs one row per slot,
// not one per execution.
func (q *queries) CountExecutionsBySlot(ctx context.Context, from, to time.Time, workflowID *uuid.UUID) ([]flow.SlotCount, error) {
	lo, hi := ceilMicro(from), ceilMicro(to)
	width := int64(flow.SlotWidth / time.Second)
	b := countQuery{slotWidth: width,
		slotOf: func(col string) string { return floorDivSQL(q.d.UnixSeconds(col), width) }}
	r := countsBySlot
	if workflowID != nil {
		r, b.extra = countsByWorkflowSlot, " AND workflow_id = "+b.arg(workflowID.String())
	}
	p := splitRange(&lo, &hi, false, time.Now())
	for _, s := range p.slots {
		b.rollup(r, s)
	}
	b.changesAndRaw(p)
	if len(b.parts) == 0 {
		return nil, nil
	}
	rows, err := q.r.QueryContext(ctx, b.sql(), b.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var slots []slotCounts
	for rows.Next() {
		var packed sql.NullString // NULL: a part with no slot
		if err := rows.Scan(&packed); err != nil {
			return nil, err
		}
		if slots, err = parseSlotRows(slots, packed.String); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return slotCountsOf(sumBySlot(slots), width), nil
}

// ceilMicro is t in UTC at the stored precision, rounded up: an execution
// (stored to the microsecond) starts at or after t exactly when it starts
// at or after ceilMicro(t). Rounded down, a bound half a microsecond after
// a start would take that execution in as a range's start and leave it out
// as a range's (exclusive) end.
func ceilMicro(t time.Time) time.Time {
	c := t.UTC().Truncate(time.Microsecond)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	return c
}

// slotCountsOf lists the non-zero counts of slots (in slot order) by slot,
// then status name; nil for none.
func slotCountsOf(slots []slotCounts, width int64) []flow.SlotCount {
	n := 0
	for _, s := range slots {
		for _, c := range s.counts {
			if c != 0 {
				n++
			}
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]flow.SlotCount, 0, n) // thousands: grown by appends, the copies cost more than the query
	for _, s := range slots {
		start := time.Unix(s.slot*width, 0).UTC()
		for _, i := range statusesByName {
			if s.counts[i] != 0 {
				out = append(out, flow.SlotCount{Start: start, Status: countedStatuses[i], Count: s.counts[i]})
			}
		}
	}
	return out
}

// statusesByName are the indexes of countedStatuses in name order, the
// order of a series' statuses within a slot.
var statusesByName = func() []int {
	order := make([]int, len(countedStatuses))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(countedStatuses[a], countedStatuses[b]) })
	return order
}()

// parseSlotRows appends the rows packedSlotRow rendered, ';'-separated.
func parseSlotRows(slots []slotCounts, packed string) ([]slotCounts, error) {
	slots = slices.Grow(slots, strings.Count(packed, ";")+1)
	for row := range strings.SplitSeq(packed, ";") {
		if row == "" {
			continue
		}
		var s slotCounts
		fields := append([]*int64{&s.slot}, s.counts.fields()...)
		for i, f := range fields {
			var v string
			v, row, _ = strings.Cut(row, " ")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || (i == len(fields)-1) != (row == "") {
				return slots, fmt.Errorf("execution counts: malformed series row %q", v+" "+row)
			}
			*f = n
		}
		slots = append(slots, s)
	}
	return slots, nil
}

// slotCounts is one row of a series query.
type slotCounts struct {
	slot   int64
	counts statusCounts
}

// sumBySlot orders rows by slot and sums those of one slot. The rollup's
// rows come first, already in slot order (its primary key), then the few
// rows of the other parts: those are sorted alone and merged in, so
// thousands of slots cost one pass, not a sort.
func sumBySlot(rows []slotCounts) []slotCounts {
	bySlot := func(a, b slotCounts) int { return cmp.Compare(a.slot, b.slot) }
	head := 1
	for head < len(rows) && rows[head-1].slot <= rows[head].slot {
		head++
	}
	head = min(head, len(rows))
	tail := slices.Clone(rows[head:])
	slices.SortFunc(tail, bySlot)
	out := make([]slotCounts, 0, len(rows))
	for i, j := 0, 0; i < head || j < len(tail); {
		var next slotCounts
		if j == len(tail) || (i < head && rows[i].slot <= tail[j].slot) {
			next, i = rows[i], i+1
		} else {
			next, j = tail[j], j+1
		}
		if last := len(out) - 1; last >= 0 && out[last].slot == next.slot {
			out[last].counts.add(&next.counts)
		} else {
			out = append(out, next)
		}
	}
	return out
}
