package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
	"flowker/internal/store"
)

// sqlState stands for a driver error carrying a PostgreSQL SQLSTATE
// (pgconn.PgError has the same method).
type sqlState string

func (s sqlState) Error() string    { return "SQLSTATE " + string(s) }
func (s sqlState) SQLState() string { return string(s) }

func TestTransient(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{store.ErrUnavailable, true},
		{store.Unavailable(errors.New("lost")), true},
		{fmt.Errorf("save: %w", store.Unavailable(errors.New("lost"))), true},
		{flow.ErrQueueFull, true}, // any KindUnavailable
		{store.ErrUnstorable, false},
		{store.Unstorable(nil, "name contains a NUL"), false},
		{flow.ErrWorkflowNotFound, false},
		{flow.ErrStateChanged, false},
		{store.ErrLeaseLost, false},
		{store.ErrDuplicateIdempotencyKey, false},
		{sql.ErrNoRows, false},
		{errors.New("syntax error"), false},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{context.Canceled, false},
		{driver.ErrBadConn, true},
		{fmt.Errorf("dial: %w", refused), true},
		{syscall.ECONNRESET, true},
		{syscall.EPIPE, true},
		{fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), true},
		{sqlState("08006"), true}, // connection failure
		{sqlState("08001"), true},
		{sqlState("40001"), true},  // serialization failure
		{sqlState("40P01"), true},  // deadlock
		{sqlState("53300"), true},  // too many connections
		{sqlState("53100"), true},  // disk full
		{sqlState("57P01"), true},  // admin shutdown
		{sqlState("57P03"), true},  // cannot connect now
		{sqlState("57014"), false}, // query cancelled (by the caller)
		{sqlState("23505"), false}, // unique violation
		{sqlState("22P05"), false}, // untranslatable character
		{sqlState("42P01"), false}, // undefined table
		{fmt.Errorf("wrapped: %w", sqlState("40001")), true},
	}
	for _, c := range cases {
		require.Equal(t, c.want, store.Transient(c.err), "%v", c.err)
	}
}

func TestUnavailableAndUnstorable(t *testing.T) {
	t.Parallel()
	require.NoError(t, store.Unavailable(nil))
	cause := errors.New("connection refused")
	err := store.Unavailable(cause)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, err, cause, "the cause is kept")
	var fe *flow.Error
	require.ErrorAs(t, err, &fe)
	require.Equal(t, store.ErrUnavailable, fe, "the HTTP layer sees the sentinel, not the cause")
	require.Equal(t, store.CodeUnavailable, fe.Code)
	require.Equal(t, flow.ErrWorkflowNotFound, store.Unavailable(flow.ErrWorkflowNotFound), "classified errors pass")

	err = store.Unstorable(cause, "workflow name contains a NUL character")
	require.ErrorIs(t, err, store.ErrUnstorable)
	require.ErrorIs(t, err, cause)
	require.ErrorAs(t, err, &fe)
	require.Equal(t, flow.KindInvalid, fe.Kind)
	require.Equal(t, flow.CodeInvalidBody, fe.Code)
	require.Equal(t, "workflow name contains a NUL character", fe.Message, "the client is told what was refused")
}
