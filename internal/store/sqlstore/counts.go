package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// Dashboard rollups (docs/history.md). Triggers append one row to
// execution_count_changes for every insert, status change and delete of an
// execution, in the transaction that makes it: an append takes no lock
// another writer waits for, so concurrent executions neither queue on a
// hot counter row nor deadlock on two of them. FoldExecutionCounts moves
// those rows into three rollups (by slot; by workflow and slot; by day),
// deleting the rows it adds in the same transaction, one fold at a time. A
// count reads the rollups plus the rows not folded yet in one statement,
// one snapshot: each change is in exactly one of them, whenever the fold
// runs.

// dayWidth is the width of the day rollup: UTC days.
const dayWidth = 24 * time.Hour

// countsLock names the fold's lock: one fold at a time across processes.
const countsLock = "execution-counts"

// countedStatuses are the rollups' count columns, in this order everywhere.
var countedStatuses = [...]flow.ExecutionStatus{flow.ExecPending, flow.ExecRunning, flow.ExecWaiting,
	flow.ExecCompleted, flow.ExecFailed, flow.ExecCancelled}

// statusCounts is one count per status, in countedStatuses order.
type statusCounts [len(countedStatuses)]int64

func (c *statusCounts) add(o *statusCounts) {
	for i := range c {
		c[i] += o[i]
	}
}

// count adds by to status's count; a nil status counts nothing.
func (c *statusCounts) count(status *string, by int64) error {
	if status == nil {
		return nil
	}
	i, err := statusIndex(*status)
	c[i] += by
	return err
}

func (c *statusCounts) zero() bool { return *c == statusCounts{} }

// dest is c's fields as Scan destinations.
func (c *statusCounts) dest() []any {
	out := make([]any, len(c))
	for i := range c {
		out[i] = &c[i]
	}
	return out
}

// fields is c's fields, to parse into.
func (c *statusCounts) fields() []*int64 {
	out := make([]*int64, len(c))
	for i := range c {
		out[i] = &c[i]
	}
	return out
}

// statusIndex is status's column, or an error for a status the rollups
// do not know (a new one needs a migration adding its column).
func statusIndex(status string) (int, error) {
	for i, s := range countedStatuses {
		if string(s) == status {
			return i, nil
		}
	}
	return 0, fmt.Errorf("execution counts: no rollup column for status %q", status)
}

// statusColumns renders format once per status (%[1]s is the status,
// which is also its column's name), comma-separated, in column order.
func statusColumns(format string) string {
	out := make([]string, len(countedStatuses))
	for i, s := range countedStatuses {
		out[i] = fmt.Sprintf(format, s)
	}
	return strings.Join(out, ", ")
}

// rollup is one rollup table: counts by a unit of start time (slot or
// day: Unix seconds divided by its width), of one workflow when byWorkflow.
type rollup struct {
	table, unit string
	width       time.Duration
	byWorkflow  bool
}

var (
	countsBySlot         = rollup{"execution_counts_by_slot", "slot", flow.SlotWidth, false}
	countsByWorkflowSlot = rollup{"execution_counts_by_workflow_slot", "slot", flow.SlotWidth, true}
	countsByDay          = rollup{"execution_counts_by_day", "day", dayWidth, false}
	rollups              = []rollup{countsBySlot, countsByWorkflowSlot, countsByDay}
)

// unitOf is the unit t falls in.
func (r rollup) unitOf(t time.Time) int64 {
	return t.Truncate(r.width).Unix() / int64(r.width/time.Second)
}

// keyColumns are the primary key's columns.
func (r rollup) keyColumns() string {
	if r.byWorkflow {
		return "workflow_id, " + r.unit
	}
	return r.unit
}

// countKey is one rollup row's key (workflow "" when not by workflow).
type countKey struct {
	workflow string
	unit     int64
}

// FoldExecutionCounts folds up to limit count changes, oldest first, into
// the rollups in one transaction and reports how many it folded. On
// PostgreSQL, while another process folds it returns 0 at once.
func (s *DB) FoldExecutionCounts(ctx context.Context, limit int) (folded int, err error) {
	locked := false
	err = s.InTx(ctx, func(tx store.Tx) error {
		q := tx.(*queries)
		if locked, err = q.TryLock(ctx, countsLock); err != nil || !locked {
			return err
		}
		folded, err = q.foldCounts(ctx, limit)
		return err
	})
	if err == nil && locked && folded < limit { // this process folds, and has drained the changes
		err = s.vacuumChanges(ctx)
	}
	return folded, err
}

// vacuumAfterDeadChanges is how many folded (dead) rows the changes table
// may hold on PostgreSQL before the fold that drained it vacuums it.
const vacuumAfterDeadChanges = 5000

// vacuumChanges vacuums the changes table on PostgreSQL once it holds
// many dead rows. Every count scans that table, dead rows included, until
// autovacuum comes by (up to a minute; after a burst, thousands of pages:
// 80 ms a count after a million changes). SQLite reuses deleted space at once.
func (s *DB) vacuumChanges(ctx context.Context) error {
	if s.d.Name != "postgresql" {
		return nil
	}
	var dead, size int64
	if err := s.w.QueryRowContext(ctx, `SELECT n_dead_tup, pg_relation_size(relid) FROM pg_stat_user_tables
		WHERE relid = 'execution_count_changes'::regclass`).Scan(&dead, &size); err != nil {
		return err
	}
	// A bloated table is shrunk first: a VACUUM frees its rows' space but
	// keeps its pages, and while load goes on its dead rows keep calling
	// for one, so a shrink tried only without them came too late for the
	// counts that followed a burst.
	if size >= shrinkChangesAbove {
		if shrunk, err := s.shrinkChanges(ctx); err != nil || shrunk {
			return err
		}
	}
	if dead >= vacuumAfterDeadChanges {
		if _, err := s.w.ExecContext(ctx, `VACUUM execution_count_changes`); err != nil {
			return fmt.Errorf("vacuuming execution_count_changes: %w", err)
		}
	}
	return nil
}

// A drained changes table larger than shrinkChangesAbove bytes is emptied
// with TRUNCATE; its lock is tried at most once per shrinkChangesEvery.
const (
	shrinkChangesAbove = 8 << 20
	shrinkChangesEvery = 5 * time.Second
)

// errShrinkNotNow: the changes table could not be locked at once, or holds
// rows again.
var errShrinkNotNow = errors.New("changes table busy")

// shrinkChanges gives the pages of a drained changes table, larger than
// shrinkChangesAbove, back. VACUUM
// frees the folded rows' space but returns the pages only if it can lock
// the table for a moment, which inserts under load may never let it do: a
// table left with 5,000,000 folded rows' pages, empty, took 140 ms to scan
// for every count (docs/history.md). So, while it is that large: lock it
// (waiting at most 100 ms, for the counts reading it and the writers
// appending to it; the writers arriving meanwhile queue behind, hence one
// try per 5 s at most), and if it holds no row, TRUNCATE. With the lock
// held no statement can see rows vanish.
func (s *DB) shrinkChanges(ctx context.Context) (shrunk bool, err error) {
	last, now := s.lastShrink.Load(), time.Now().UnixNano()
	if now-last < int64(shrinkChangesEvery) || !s.lastShrink.CompareAndSwap(last, now) {
		return false, nil // tried lately, or another fold of this process is trying
	}
	err = s.InTx(ctx, func(tx store.Tx) error {
		q := tx.(*queries)
		if _, err := q.w.ExecContext(ctx, `SET LOCAL lock_timeout = '100ms'`); err != nil {
			return err
		}
		if _, err := q.w.ExecContext(ctx, `LOCK TABLE execution_count_changes IN ACCESS EXCLUSIVE MODE`); err != nil {
			return errShrinkNotNow // busy: next time
		}
		var empty bool
		if err := q.w.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM execution_count_changes)`).Scan(&empty); err != nil {
			return err
		}
		if !empty {
			return errShrinkNotNow
		}
		_, err := q.w.ExecContext(ctx, `TRUNCATE execution_count_changes`)
		return err
	})
	if errors.Is(err, errShrinkNotNow) {
		return false, nil
	}
	return err == nil, err
}

// foldChanges deletes the oldest $1 changes, as one range of ids between
// the first and the $1-th: one index range whatever the planner believes.
// Written as `id IN (the first $1 ids)`, PostgreSQL joined the two, and
// with the table's statistics saying it was empty (the fold's VACUUM of
// the drained table, then a burst before autovacuum analyzed it again)
// chose a nested loop: every change compared with every one of the batch,
// a fold of 5,000 out of a million changes that had not ended after a
// minute. With only the upper bound, and no statistics at all (the fold's
// TRUNCATE of the drained table), it guessed a third of the table in range
// and scanned all of it for every fold. Bounded on both sides, an unknown
// range is guessed narrow (TestFoldPlansOneIndexRange).
const foldChanges = `DELETE FROM execution_count_changes
	WHERE id >= (SELECT min(id) FROM execution_count_changes)
		AND id <= (SELECT max(id) FROM (SELECT id FROM execution_count_changes ORDER BY id LIMIT $1) AS batch)
	RETURNING started_at, workflow_id, from_status, to_status`

// foldCounts deletes the oldest limit changes and adds them to the
// rollups.
func (q *queries) foldCounts(ctx context.Context, limit int) (int, error) {
	rows, err := q.w.QueryContext(ctx, foldChanges, limit)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	deltas := map[rollup]map[countKey]*statusCounts{}
	for _, r := range rollups {
		deltas[r] = map[countKey]*statusCounts{}
	}
	n := 0
	// Scanned into the same variables row after row: each escapes once, not
	// once a row; and most rows name a workflow the row before named.
	var started time.Time
	var workflow, named uuid.UUID
	var from, to *string
	var name string
	for rows.Next() {
		if err := rows.Scan(dbTime{&started}, dbUUID{&workflow}, &from, &to); err != nil {
			return 0, err
		}
		n++
		var change statusCounts
		if err := errors.Join(change.count(from, -1), change.count(to, 1)); err != nil {
			return 0, err
		}
		if name == "" || workflow != named {
			named, name = workflow, workflow.String()
		}
		for _, r := range rollups {
			key := countKey{unit: r.unitOf(started)}
			if r.byWorkflow {
				key.workflow = name
			}
			if deltas[r][key] == nil {
				deltas[r][key] = &statusCounts{}
			}
			deltas[r][key].add(&change)
		}
	}
	if err := errorsOf(rows); err != nil {
		return 0, err
	}
	for _, r := range rollups {
		if err := q.addCounts(ctx, r, deltas[r]); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// errorsOf ends a read: its error, else the error of closing it.
func errorsOf(rows rows) error {
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// upsertRows bounds the rows of one upsert statement (parameters).
const upsertRows = 500

// addCounts adds deltas to r's rows, in key order, and deletes the rows
// left with no execution (their slot's executions were all archived), so
// reads scan only rows that count.
func (q *queries) addCounts(ctx context.Context, r rollup, deltas map[countKey]*statusCounts) error {
	keys := make([]countKey, 0, len(deltas))
	for k, d := range deltas {
		if !d.zero() {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b countKey) int {
		return cmp.Or(strings.Compare(a.workflow, b.workflow), cmp.Compare(a.unit, b.unit))
	})
	width := 1 + len(countedStatuses) // parameters per row
	if r.byWorkflow {
		width++
	}
	var emptied []countKey
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), upsertRows)]
		keys = keys[len(chunk):]
		args := make([]any, 0, len(chunk)*width)
		marks := make([]string, len(chunk))
		for i, k := range chunk {
			if r.byWorkflow {
				args = append(args, k.workflow)
			}
			args = append(args, k.unit)
			for _, n := range deltas[k] {
				args = append(args, n)
			}
			marks[i] = placeholders(i*width+1, width)
		}
		rows, err := q.w.QueryContext(ctx, `INSERT INTO `+r.table+` (`+r.keyColumns()+`, `+statusColumns("%s")+
			`) VALUES `+strings.Join(marks, ", ")+` ON CONFLICT (`+r.keyColumns()+`) DO UPDATE SET `+
			statusColumns("%[1]s = "+r.table+".%[1]s + excluded.%[1]s")+
			` RETURNING `+r.keyColumns()+`, `+statusColumns("%s"), args...)
		if err != nil {
			return err
		}
		if emptied, err = appendEmptied(rows, emptied, r.byWorkflow); err != nil {
			return err
		}
	}
	where := r.unit + " = $1 AND " + strings.ReplaceAll(statusColumns("%s = 0"), ", ", " AND ")
	for _, k := range emptied {
		args := []any{k.unit}
		if r.byWorkflow {
			args = append(args, k.workflow)
		}
		stmt := `DELETE FROM ` + r.table + ` WHERE ` + where
		if r.byWorkflow {
			stmt += ` AND workflow_id = $2`
		}
		if _, err := q.w.ExecContext(ctx, stmt, args...); err != nil {
			return err
		}
	}
	return nil
}

// appendEmptied reads an upsert's returned rows and appends the keys of
// those whose counts are all zero now.
func appendEmptied(rows rows, emptied []countKey, byWorkflow bool) ([]countKey, error) {
	defer rows.Close()
	for rows.Next() {
		var k countKey
		var workflow uuid.UUID
		var counts statusCounts
		dest := append([]any{&k.unit}, counts.dest()...)
		if byWorkflow {
			dest = append([]any{dbUUID{&workflow}}, dest...)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if counts.zero() {
			if byWorkflow {
				k.workflow = workflow.String()
			}
			emptied = append(emptied, k)
		}
	}
	return emptied, rows.Err()
}

// span is a range [from, to) of start times; a nil end is unbounded.
type span struct{ from, to *time.Time }

// countParts is a range of start times split by where each part is
// counted: whole UTC days from the day rollup, whole slots outside them
// from a slot rollup, the changes not folded yet over every whole slot,
// and the executions themselves in the partial slots at the edges (each
// inside one slot, however long the range): added (raw) or, when an edge
// slot is counted whole, subtracted (sub).
type countParts struct {
	days    *span
	slots   []span
	changes *span
	raw     []span
	sub     []span
}

// splitRange splits [from, to); withDays uses the day rollup for whole days.
//
// An edge slot is counted from the executions themselves: the part inside
// the range (raw), or, when countWhole says so, the whole slot from the
// rollups minus the part outside (sub). A range ending now ends in the
// current slot: under load it holds thousands of executions, all before
// the end, and on PostgreSQL their index entries are not yet marked
// all-visible, so each one counted is a visit to the table (20,000 took
// ~11 ms), while the rest of the slot is empty. now only chooses the side:
// both give the same counts.
func splitRange(from, to *time.Time, withDays bool, now time.Time) countParts {
	var p countParts
	if from != nil && to != nil && !from.Before(*to) {
		return p
	}
	slotFrom, slotTo := ceilTo(from, flow.SlotWidth), floorTo(to, flow.SlotWidth)
	if slotFrom != nil && slotFrom.After(flow.MaxInstant) {
		// from lies in the last slot there is: no later slot to count, and
		// year 10000 as text sorts before every stored time on SQLite (all
		// unfolded changes were counted; found by a defect hunt).
		p.raw = []span{{from, to}}
		return p
	}
	if from != nil && to != nil && !slotFrom.Before(*slotTo) { // not one whole slot
		if slotFrom.Equal(*slotTo) && from.Before(*slotFrom) && slotTo.Before(*to) { // across a boundary
			p.raw = []span{{from, slotFrom}, {slotTo, to}}
		} else {
			p.raw = []span{{from, to}}
		}
		return p
	}
	if from != nil && from.Before(*slotFrom) {
		if start := slotFrom.Add(-flow.SlotWidth); countWhole(pastWithin(start, *from, now), pastWithin(*from, *slotFrom, now)) {
			p.sub, slotFrom = append(p.sub, span{&start, from}), &start
		} else {
			p.raw = append(p.raw, span{from, slotFrom})
		}
	}
	if to != nil && slotTo.Before(*to) {
		if end := slotTo.Add(flow.SlotWidth); countWhole(pastWithin(*to, end, now), pastWithin(*slotTo, *to, now)) {
			p.sub, slotTo = append(p.sub, span{to, &end}), &end
		} else {
			p.raw = append(p.raw, span{slotTo, to})
		}
	}
	p.changes = &span{slotFrom, slotTo}
	dayFrom, dayTo := ceilTo(from, dayWidth), floorTo(to, dayWidth)
	if !withDays || (from != nil && to != nil && !dayFrom.Before(*dayTo)) {
		p.slots = []span{{slotFrom, slotTo}}
		return p
	}
	p.days = &span{dayFrom, dayTo}
	if from != nil && slotFrom.Before(*dayFrom) {
		p.slots = append(p.slots, span{slotFrom, dayFrom})
	}
	if to != nil && dayTo.Before(*slotTo) {
		p.slots = append(p.slots, span{dayTo, slotTo})
	}
	return p
}

// pastWithin is how much of [from, to) lies before now: where executions
// may have started.
func pastWithin(from, to, now time.Time) time.Duration {
	if now.Before(to) {
		to = now
	}
	return max(to.Sub(from), 0)
}

// countWhole: an edge slot is counted whole, minus the part outside the
// range, when that part holds at most a second of past, less than the
// inside: a range ending now (or as a request reaches the server, a few
// milliseconds later) ends in the current slot, whose rest has not
// happened. Otherwise the inside is read. A rule by shares of time chose
// wrong: executions are not spread evenly, and a range ending at the
// minute before now, right after a burst, found the burst's 20,000
// executions outside, in the last 40 s, and none in the ten minutes
// inside (phase h of the bench: 70 ms a count instead of 1).
func countWhole(outside, inside time.Duration) bool {
	return outside <= time.Second && outside < inside
}

// floorTo is t truncated to a multiple of width (UTC); nil stays nil.
func floorTo(t *time.Time, width time.Duration) *time.Time {
	if t == nil {
		return nil
	}
	f := t.Truncate(width)
	return &f
}

// ceilTo is the first multiple of width at or after t; nil stays nil.
func ceilTo(t *time.Time, width time.Duration) *time.Time {
	f := floorTo(t, width)
	if f != nil && f.Before(*t) {
		*f = f.Add(width)
	}
	return f
}

// countQuery assembles one statement whose rows, one count per status
// (after the slot, in a series), sum to the counts. A series' rollup rows
// pass through as stored, in slot order: the caller sums, which costs less
// than having the database group thousands of slots again. And each part
// of a series comes back packed in one text value ("slot n n n n n n;…"):
// the drivers cost about a microsecond per value (database/sql converts
// them one at a time): 30 days' 2,880 rows of seven values took 6–7 ms as
// rows on SQLite, 3.5–5 ms as text.
type countQuery struct {
	parts     []string
	args      []any
	slotOf    func(col string) string // the slot of a time column; nil: one row of totals per part
	slotWidth int64                   // with slotOf: a slot's width in seconds
	extra     string                  // more conditions (the workflow)
}

func (b *countQuery) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

func (b *countQuery) sql() string {
	parts := b.parts
	if b.slotOf != nil {
		parts = make([]string, len(b.parts))
		for i, p := range b.parts {
			parts[i] = "SELECT string_agg(" + packedSlotRow + ", ';') FROM (" + p + ") AS counted"
		}
	}
	return strings.Join(parts, " UNION ALL ")
}

// packedSlotRow renders a series row as text: its slot, then its counts in
// column order, space-separated (parseSlotRows reads it back).
var packedSlotRow = "CAST(slot AS text) || ' ' || " +
	strings.ReplaceAll(statusColumns("CAST(%s AS text)"), ", ", " || ' ' || ")

// bounds renders lo <= col < hi for s, each end through value.
func (b *countQuery) bounds(col string, s span, value func(time.Time) any) string {
	var conds []string
	if s.from != nil {
		conds = append(conds, col+" >= "+b.arg(value(*s.from)))
	}
	if s.to != nil {
		conds = append(conds, col+" < "+b.arg(value(*s.to)))
	}
	if len(conds) == 0 {
		return "1 = 1"
	}
	return strings.Join(conds, " AND ")
}

// within is a time column inside s, as the stored layout compares.
func (b *countQuery) within(col string, s span) string {
	return b.bounds(col, s, func(t time.Time) any { return timeArg(t) })
}

// rollup adds r's counts of the units inside s (whole units: s's ends are
// multiples of r's width).
func (b *countQuery) rollup(r rollup, s span) {
	cols := "slot, " + statusColumns("%s")
	if b.slotOf == nil {
		cols = statusColumns("COALESCE(CAST(sum(%s) AS bigint), 0)")
	}
	b.parts = append(b.parts, "SELECT "+cols+" FROM "+r.table+" WHERE "+
		b.bounds(r.unit, s, func(t time.Time) any { return r.unitOf(t) })+b.extra)
}

// changesAndRaw adds the changes not folded yet, over every whole slot,
// and the executions themselves in the partial slots at the edges.
func (b *countQuery) changesAndRaw(p countParts) {
	if p.changes != nil {
		b.counted("execution_count_changes", b.within("started_at", *p.changes),
			"count(*) FILTER (WHERE to_status = '%[1]s') - count(*) FILTER (WHERE from_status = '%[1]s')")
	}
	for _, s := range p.raw {
		b.raw(s, "")
	}
	for _, s := range p.sub {
		b.raw(s, "-")
	}
}

// raw adds (sign "") or subtracts (sign "-") the executions started in s,
// which lies inside one slot (an edge): a count per status, each a range of
// an index that begins with the status and holds the start time (with the
// workflow before them when b.extra names one), so no row is read (on
// PostgreSQL, none on a page marked all-visible). An edge can be busy (the
// current slot under load holds thousands of executions): read through the
// started_at index, which looks up every row, 20,000 executions of 3 KB
// took 195 ms (BenchmarkDashboard1M, status-24h-busy-edge), 1.1 ms this way.
// A series gets the edge's slot as a constant, not computed per row.
func (b *countQuery) raw(s span, sign string) {
	where := b.within("started_at", s) + b.extra
	counts := make([]string, len(countedStatuses))
	for i, st := range countedStatuses {
		counts[i] = sign + "(SELECT count(*) FROM executions WHERE status = '" + string(st) + "' AND " + where + ") AS " + string(st)
	}
	cols := strings.Join(counts, ", ")
	if b.slotOf != nil {
		cols = strconv.FormatInt(floorDiv(s.from.Unix(), b.slotWidth), 10) + " AS slot, " + cols
	}
	b.parts = append(b.parts, "SELECT "+cols)
}

// floorDiv is a / b rounded down (b > 0), as rollup.unitOf keys a slot:
// Go's / rounds toward zero, which puts a start before 1970 in the slot
// after its own.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// floorDivSQL is floorDiv in SQL, for an integer expression x: both
// databases' integer / and % round toward zero, as Go's do.
func floorDivSQL(x string, b int64) string {
	w := strconv.FormatInt(b, 10)
	return "((" + x + " - ((" + x + " % " + w + ") + " + w + ") % " + w + ") / " + w + ")"
}

// counted adds table's rows where where holds, counted per status by count.
func (b *countQuery) counted(table, where, count string) {
	cols, group := statusColumns(count), ""
	if b.slotOf != nil {
		cols, group = b.slotOf("started_at")+" AS slot, "+statusColumns(count+" AS %[1]s"), " GROUP BY slot"
	}
	b.parts = append(b.parts, "SELECT "+cols+" FROM "+table+" WHERE "+where+b.extra+group)
}
