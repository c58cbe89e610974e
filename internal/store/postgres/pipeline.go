package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

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
		return dc.Conn().SendBatch(ctx, b).Close()
	})
}

// rowsOf gives pgx.Rows the Close of database/sql's rows.
type rowsOf struct{ pgx.Rows }

func (r rowsOf) Close() error {
	r.Rows.Close()
	return r.Err()
}
