package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"flowker/internal/store"
	"flowker/internal/store/sqlstore"
)

// pipeline sends stmts on c as one pgx batch: pipelined, so the whole
// queue costs one round trip (statements pgx has not prepared on this
// connection yet cost one more, once). Results are read in order and
// handed to each statement's handler; the first error ends it, and the
// server skips the rest of the queue (its transaction is aborted).
func pipeline(ctx context.Context, c *sql.Conn, stmts []sqlstore.Pipelined) error {
	return c.Raw(func(driverConn any) error {
		dc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres: pipeline on a %T connection", driverConn)
		}
		b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(stmts))}
		for _, st := range stmts {
			qq := b.Queue(st.SQL, st.Args...)
			switch {
			case st.Row != nil:
				qq.QueryRow(func(r pgx.Row) error { return st.Row(r) })
			case st.Rows != nil:
				qq.Query(func(r pgx.Rows) error { return st.Rows(rowsOf{r}) })
			case st.Tag != nil:
				qq.Exec(func(ct pgconn.CommandTag) error { return st.Tag(ct.String()) })
			}
		}
		if len(stmts) > 0 && stmts[len(stmts)-1].SQL == "COMMIT" {
			return sendCommitting(ctx, dc.Conn(), b)
		}
		return dc.Conn().SendBatch(ctx, b).Close()
	})
}

// sendCommitting sends a batch that ends with COMMIT, and is not abandoned
// when ctx ends: the server would go on running what it had received (a
// statement waiting for a lock runs once the lock goes, then COMMIT) after
// every caller was told the batch failed. Instead the server is asked to
// cancel what it runs then (a cancel request), and the batch's answer is
// read: a statement cancelled (or a prepare, which can wait for a table's
// lock too) aborts the transaction and COMMIT is never run; a COMMIT that
// ran first is reported as run. Only a server that answers nothing within
// commitGrace more is abandoned, its outcome unknown, as for any COMMIT
// whose answer is lost. A connection a cancel request was sent on is
// closed after: the request could reach it late and cancel its next
// statement.
func sendCommitting(ctx context.Context, conn *pgx.Conn, b *pgx.Batch) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	run, giveUp := context.WithCancel(context.WithoutCancel(ctx))
	defer giveUp()
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		time.AfterFunc(commitGrace, giveUp) // no answer at all: the outcome is unknown
		cctx, cancel := context.WithTimeout(context.Background(), commitGrace)
		defer cancel()
		_ = conn.PgConn().CancelRequest(cctx)
	})
	err := conn.SendBatch(run, b).Close()
	lost := err != nil && answerLost(conn, err)
	if !stop() { // the cancel request was sent, or is on its way
		<-cancelled
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx) // database/sql drops a closed connection (stdlib.Conn.IsValid)
		if err != nil {
			// ctx ending is the cause. The failure is only told (%v): a
			// handler's own error (a lease lost) must not match for every
			// caller of a group commit.
			err = fmt.Errorf("%w (%v)", context.Cause(ctx), err) //nolint:errorlint // see above
		}
	}
	if lost {
		return store.OutcomeUnknown(err)
	}
	return err
}

// answerLost tells a batch carrying COMMIT that failed with no answer from
// the server (the connection dropped, or the server stayed silent past
// commitGrace) after its statements may have been sent: then COMMIT may
// have run. A server's error, or a handler's on a connection still open,
// is an answer; an error that struck before the statements were sent
// (pgconn's safe-to-retry, or while the batch's statements were prepared)
// is not a lost one.
func answerLost(conn *pgx.Conn, err error) bool {
	var pgErr *pgconn.PgError
	var preparing pgx.ErrPreprocessingBatch // the batch's prepares, answered before anything else is sent
	if errors.As(err, &pgErr) || errors.As(err, &preparing) || pgconn.SafeToRetry(err) {
		return false
	}
	return conn.PgConn().IsClosed()
}

// commitGrace is how long a batch carrying COMMIT waits for the server's
// answer once its context ended (deadline or Close) and it asked the
// server to cancel.
const commitGrace = 5 * time.Second

// rowsOf gives pgx.Rows the Close of database/sql's rows.
type rowsOf struct{ pgx.Rows }

func (r rowsOf) Close() error {
	r.Rows.Close()
	return r.Err()
}
