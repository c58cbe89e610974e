package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAnonymousParams(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)", "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"},
		{"SELECT a FROM t WHERE id IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			"SELECT a FROM t WHERE id IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
		{"UPDATE t SET a = $3 WHERE id = $1 AND b = $2", "UPDATE t SET a = $3 WHERE id = $1 AND b = $2"}, // out of order
		{"SELECT a FROM t WHERE x = $1 OR y = $1", "SELECT a FROM t WHERE x = $1 OR y = $1"},             // reused
		{"SELECT a FROM t WHERE x = $1 AND y = '$2'", "SELECT a FROM t WHERE x = $1 AND y = '$2'"},       // a literal
		{"SELECT 1", "SELECT 1"},
		{"SELECT $", "SELECT $"},
	} {
		require.Equal(t, tc.want, toAnonymous(tc.in), tc.in)
	}
	var a *anonymousParams
	require.Equal(t, "SELECT $1", a.rewrite("SELECT $1"), "off")
	a = &anonymousParams{}
	require.Equal(t, "SELECT ?", a.rewrite("SELECT $1"))
	require.Equal(t, "SELECT ?", a.rewrite("SELECT $1"), "remembered")
}
