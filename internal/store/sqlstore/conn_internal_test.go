package sqlstore

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// With DeadlineBetweenStatements, a group commit's statement gets a
// context with no Done channel while the batch lasts (the SQLite driver
// starts a goroutine per statement to watch one that has), and one already
// ended, with the batch's cause, once the batch's deadline has passed.
// Without it, the statement's context ends when the batch's does.
func TestBindDeadlineBetweenStatements(t *testing.T) {
	type key struct{}
	caller := context.WithValue(context.Background(), key{}, "caller's")
	expired := errors.New("batch deadline")

	batch, end := context.WithCancelCause(context.Background())
	between := &conn{d: &Dialect{DeadlineBetweenStatements: true}, bound: batch}
	ctx, done := between.bind(caller)
	require.Nil(t, ctx.Done(), "nothing for the driver to watch")
	require.Equal(t, "caller's", ctx.Value(key{}), "the caller's values are kept")
	done()
	end(expired)
	ctx, done = between.bind(caller)
	require.Error(t, ctx.Err(), "refused once the batch has ended")
	require.ErrorIs(t, context.Cause(ctx), expired)
	done()

	batch, end = context.WithCancelCause(context.Background())
	interrupted := &conn{d: &Dialect{}, bound: batch}
	ctx, done = interrupted.bind(caller)
	defer done()
	require.NotNil(t, ctx.Done())
	require.NoError(t, ctx.Err())
	end(expired)
	<-ctx.Done()
	require.ErrorIs(t, context.Cause(ctx), expired, "ended while it runs")

	outside := &conn{d: &Dialect{DeadlineBetweenStatements: true}}
	ctx, done = outside.bind(caller)
	defer done()
	require.Equal(t, caller, ctx, "outside a batch: the caller's own context")
}
