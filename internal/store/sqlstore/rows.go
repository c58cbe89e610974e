package sqlstore

import (
	"math/bits"
	"strconv"
	"strings"
	"sync"
)

// Multi-row statements: one round trip for many rows on PostgreSQL. Their
// text depends on the row count, so counts are taken in powers of two:
// the statement caches (pgx's, and stmtCache on SQLite, where parsing is
// the cost) then hold at most log2(maxRows)+1 shapes of each, and n rows
// cost at most that many statements.

// rowChunk is how many of n rows (n ≥ 1) the next statement takes: the
// largest power of two not above n or maxRows.
func rowChunk(n, maxRows int) int {
	return 1 << (bits.Len(uint(min(n, maxRows))) - 1)
}

// insertRows is the INSERT of args, rows of cols values, after into
// ("INSERT INTO t (c1, …)").
func insertRows(into string, cols int, args []any) Pipelined {
	return Pipelined{SQL: into + valuesSQL(len(args)/cols, cols), Args: args, Into: into, Cols: cols}
}

// valuesSQL is " VALUES ($1, …), (…)" for rows rows of cols parameters;
// built once per shape: every hot write has one (a few shapes, as above).
func valuesSQL(rows, cols int) string {
	if rows > maxCachedRows || rows&(rows-1) != 0 {
		return buildValuesSQL(rows, cols)
	}
	key := [2]int{rows, cols}
	if v, ok := valuesShapes.Load(key); ok {
		return v.(string)
	}
	v, _ := valuesShapes.LoadOrStore(key, buildValuesSQL(rows, cols))
	return v.(string)
}

// valuesShapes holds valuesSQL's texts of up to maxCachedRows rows, a
// power of two: bounded by the code's tables and its chunk sizes.
var valuesShapes sync.Map

const maxCachedRows = maxCoalescedRows // every chunk a write sends

func buildValuesSQL(rows, cols int) string {
	var b strings.Builder
	b.WriteString(" VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(placeholders(i*cols+1, cols))
	}
	return b.String()
}

// inList is the placeholders of an IN list of values numbered from
// first, and the values padded to a power of two by repeating the last
// (a repeat changes nothing in an IN list): a few statement shapes.
func inList(first int, values []any) (string, []any) {
	if n := len(values); n > 1 {
		for size := 1 << bits.Len(uint(n-1)); len(values) < size; {
			values = append(values, values[n-1])
		}
	}
	return placeholders(first, len(values)), values
}

// placeholders is "($first, …, $first+n-1)".
func placeholders(first, n int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(first+i))
	}
	b.WriteByte(')')
	return b.String()
}
