package sqlstore

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	intoSteps = "INSERT INTO steps (a, b)"
	intoRuns  = "INSERT INTO runs (a)"
)

func update(id string) Pipelined {
	return Pipelined{SQL: "UPDATE runs SET a = 1 WHERE a = $1", Args: []any{id}, Row: func(scanner) error { return nil }}
}

func sqls(queue []Pipelined) []string {
	out := make([]string, len(queue))
	for i, st := range queue {
		out[i] = st.SQL
	}
	return out
}

// TestCoalesce: only a caller's last statement moves, only handler-less
// inserts of callers (not the batch's own statements), only where two or
// more share a table and columns, and only as far as the last of them:
// never past the batch's statements that follow the callers' (the audit
// lock). Their rows keep the callers' order, and no statement given is
// changed.
func TestCoalesce(t *testing.T) {
	queue := []Pipelined{
		{SQL: "BEGIN"},
		update("a"), insertRows(intoSteps, 2, []any{"a", 1, "a", 2}), // caller 0: update, then its steps
		insertRows(intoRuns, 1, []any{"x"}), update("b"), // caller 1: an insert that is not its last
		update("c"), insertRows(intoSteps, 2, []any{"c", 1}), // caller 2
		insertRows(intoRuns, 1, []any{"y"}),     // caller 3: alone of its kind
		insertRows(intoSteps, 2, []any{"z", 9}), // the batch's own (caller -1)
	}
	owners := []int{-1, 0, 0, 1, 1, 2, 2, 3, -1}
	before := make([][]any, len(queue))
	for i, st := range queue {
		before[i] = slices.Clone(st.Args)
	}

	out := coalesce(queue, owners)
	require.Equal(t, []string{"BEGIN", queue[1].SQL, intoRuns + valuesSQL(1, 1), queue[4].SQL, queue[5].SQL,
		intoSteps + valuesSQL(2, 2), intoSteps + valuesSQL(1, 2), intoRuns + valuesSQL(1, 1), intoSteps + valuesSQL(1, 2)},
		sqls(out))
	require.Equal(t, []any{"x"}, out[2].Args, "caller 1's insert stays where it was")
	require.Equal(t, []any{"a", 1, "a", 2}, out[5].Args, "callers 0 and 2's steps, in order, as powers of two, "+
		"where caller 2's were")
	require.Equal(t, []any{"c", 1}, out[6].Args)
	require.Equal(t, []any{"y"}, out[7].Args, "one insert of its kind stays where it was")
	require.Equal(t, []any{"z", 9}, out[8].Args, "the batch's own statement stays last")
	require.NotNil(t, out[1].Row)
	for i, st := range queue {
		require.Equal(t, before[i], st.Args, "statement %d's values", i)
	}
	out[5].Args[0] = "changed"
	require.Equal(t, "a", queue[2].Args[0], "coalesced values are copies")

	single := []Pipelined{update("a"), insertRows(intoSteps, 2, []any{"a", 1})}
	require.Equal(t, single, coalesce(single, []int{0, 0}))
}

// TestCoalesceChunks: many callers' rows go in chunks of powers of two,
// at most maxCoalescedRows each.
func TestCoalesceChunks(t *testing.T) {
	var queue []Pipelined
	var owners []int
	var want []any
	for i := range 300 {
		queue = append(queue, insertRows(intoRuns, 1, []any{i}))
		owners = append(owners, i)
		want = append(want, i)
	}
	out := coalesce(queue, owners)
	var got []any
	var rows []int
	for _, st := range out {
		require.Equal(t, intoRuns+valuesSQL(len(st.Args), 1), st.SQL)
		rows = append(rows, len(st.Args))
		got = append(got, st.Args...)
	}
	require.Equal(t, []int{256, 32, 8, 4}, rows)
	require.Equal(t, want, got)
}
