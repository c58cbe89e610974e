package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"flowker/internal/audit"
	"flowker/internal/store"
)

const auditColumns = `seq, event_id, occurred_at, event_type, action, result, resource_type, resource_id,
	actor_type, actor_id, actor_ip, request_id, trace_id, metadata, previous_hash, hash`

// AppendAudit chains e after the last event and inserts it, inside the
// caller's transaction. The lock (PostgreSQL) or the single writer
// (SQLite) is held from reading the last hash until commit, and seq is
// assigned under it, so chain order is seq order even with concurrent
// writers in several processes. Under the same lock, e's timestamp is
// raised to the chain head's if it is earlier (clocks of several processes
// differ; an event stamped before it waited for the lock), so timestamps
// never go backwards along the chain.
//
// In a transaction, e is checked now and chained and inserted with the
// transaction's other events right before it commits (flushAudit): the
// lock is then held only for that, and a group commit's events cost one
// multi-row statement. e's Seq, hash and final timestamp are set by then.
func (q *queries) AppendAudit(_ context.Context, e *audit.Event) error {
	// Checked now, so the caller gets the refusal; encoded again at the
	// insert, and that text is both hashed and stored. The check uses the
	// insert's encoder: marshalJSON's accepts values encoding/json refuses
	// (a malformed json.Number, a year past 9999), which would be refused
	// only at the commit: after fn returned, the group rerun one by one.
	if q.d.auditKey.IsZero() {
		return errNoAuditKey
	}
	_, err := canonicalJSON("audit metadata", e.Metadata, "{}")
	if err == nil {
		err = checkTexts("audit event type", e.EventType, "audit action", e.Action, "audit result", e.Result,
			"audit resource type", e.ResourceType, "audit resource id", e.ResourceID, "audit actor type",
			e.Actor.Type, "audit actor id", e.Actor.ID, "audit actor ip", e.Actor.IP, "audit request id",
			e.RequestID, "audit trace id", e.TraceID)
	}
	if err != nil {
		return err
	}
	if !q.inTx {
		return errAuditOutsideTx
	}
	q.audit = append(q.audit, e)
	return nil
}

// errAuditOutsideTx refuses an event appended on the store itself: it
// records no change (every event is written in its change's transaction),
// and outside a transaction nothing holds the chain's lock from the head's
// read to the insert, so two such appends chained onto one head and forked
// the chain (found by a defect hunt).
var errAuditOutsideTx = errors.New("sqlstore: audit events are appended in the transaction of their change (InTx or Batch)")

// beforeCommit queues what a transaction sends after its callers'
// statements: the read that fills their catalog views, then their audit
// events.
func (q *queries) beforeCommit(ctx context.Context) error {
	if err := q.readCatalog(ctx); err != nil {
		return err
	}
	return q.flushAudit(ctx)
}

// flushAudit inserts the events appended in this transaction; the caller
// commits right after.
func (q *queries) flushAudit(ctx context.Context) error {
	if len(q.audit) == 0 {
		return nil
	}
	events := q.audit
	q.audit = nil
	return q.insertAudit(ctx, events)
}

// auditPerInsert bounds one multi-row INSERT (15 parameters an event).
const auditPerInsert = 64

// errNoAuditKey: the store was opened without UseAuditKey.
var errNoAuditKey = errors.New("audit: the chain's key is not set (sqlstore.DB.UseAuditKey)")

// UseAuditKey sets the key that seals the chain; call it before the first
// write. A store without one refuses to append audit events.
func (s *DB) UseAuditKey(k audit.Key) { s.dialect.auditKey = k }

// AuditKey is the key that seals the chain (zero before UseAuditKey).
func (s *DB) AuditKey() audit.Key { return s.dialect.auditKey }

// insertAudit takes the audit lock (held until commit), reads the chain's
// head and inserts events after it, in order, each sealed in Go with the
// chain's key, which never reaches the database: the head's read is a
// round trip of its own on PostgreSQL (docs/engine.md, "Audit events").
func (q *queries) insertAudit(ctx context.Context, events []*audit.Event) error {
	if q.d.AuditLock != "" {
		if err := q.w.Later(ctx, Pipelined{SQL: q.d.AuditLock}); err != nil {
			return err
		}
	}
	var prev string
	var head time.Time
	err := q.w.Later(ctx, Pipelined{SQL: `SELECT hash, occurred_at FROM audit_events ORDER BY seq DESC LIMIT 1`,
		Row: func(r scanner) error {
			if err := r.Scan(&prev, dbTime{&head}); !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			return nil
		}})
	if err == nil {
		err = q.w.Flush(ctx) // the head is needed now
	}
	if err != nil {
		return err
	}
	metas := make([]string, len(events))
	for i, e := range events {
		// canonicalJSON's text is audit.EncodeMetadata's (both encoding/json's,
		// no metadata as {}): what is stored is what is hashed.
		if metas[i], err = canonicalJSON("audit metadata", e.Metadata, "{}"); err != nil {
			return err
		}
		if e.Timestamp.Before(head) {
			e.Timestamp = head
		}
		q.d.auditKey.SealEncoded(e, prev, metas[i])
		prev, head = e.Hash, e.Timestamp
	}
	for len(events) > 0 {
		n := rowChunk(len(events), auditPerInsert)
		if err := q.insertAuditRows(ctx, events[:n], metas[:n]); err != nil {
			return err
		}
		events, metas = events[n:], metas[n:]
	}
	return nil
}

// insertAuditRows inserts sealed events in one statement and sets their seq.
func (q *queries) insertAuditRows(ctx context.Context, events []*audit.Event, metas []string) error {
	args := make([]any, 0, 15*len(events))
	byID := make(map[uuid.UUID]*audit.Event, len(events))
	for i, e := range events {
		args = append(args, e.ID.String(), timeArg(e.Timestamp), e.EventType, e.Action, e.Result, e.ResourceType,
			e.ResourceID, e.Actor.Type, e.Actor.ID, e.Actor.IP, e.RequestID, e.TraceID, metas[i], e.PreviousHash, e.Hash)
		byID[e.ID] = e
	}
	return q.w.Later(ctx, Pipelined{SQL: `INSERT INTO audit_events (event_id, occurred_at, event_type, action, result,
		resource_type, resource_id, actor_type, actor_id, actor_ip, request_id, trace_id, metadata, previous_hash, hash)` +
		valuesSQL(len(events), 15) + ` RETURNING event_id, seq`, Args: args, Checked: true, // sets seq, refuses nothing
		Rows: func(rows rows) error {
			for rows.Next() {
				var id uuid.UUID
				var seq int64
				if err := rows.Scan(dbUUID{&id}, &seq); err != nil {
					return err
				}
				if e := byID[id]; e != nil {
					e.Seq = seq
				}
			}
			return rows.Err()
		}})
}

func scanAudit(s scanner) (*audit.Event, error) {
	var e audit.Event
	var meta []byte
	if err := s.Scan(&e.Seq, dbUUID{&e.ID}, dbTime{&e.Timestamp}, &e.EventType, &e.Action, &e.Result,
		&e.ResourceType, &e.ResourceID, &e.Actor.Type, &e.Actor.ID, &e.Actor.IP, &e.RequestID, &e.TraceID,
		&meta, &e.PreviousHash, &e.Hash); err != nil {
		return nil, err
	}
	return &e, unmarshalJSON("audit event", meta, &e.Metadata)
}

func (q *queries) GetAudit(ctx context.Context, id uuid.UUID) (*audit.Event, error) {
	e, err := scanAudit(q.r.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE event_id = $1`,
		id.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrAuditNotFound
	}
	return e, err
}

func (q *queries) ListAudit(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// In a fixed order: the same filters make the same statement text.
	for _, c := range []struct{ col, v string }{{"event_type", f.EventType}, {"action", f.Action},
		{"result", f.Result}, {"resource_type", f.ResourceType}, {"resource_id", f.ResourceID}} {
		col, v := c.col, c.v
		if !storable(v) {
			return nil, nil // no stored event holds such a value
		}
		if v != "" {
			where = append(where, col+" = "+arg(v))
		}
	}
	if f.From != nil {
		where = append(where, "occurred_at >= "+arg(boundArg(">=", *f.From)))
	}
	if f.To != nil {
		where = append(where, "occurred_at <= "+arg(boundArg("<=", *f.To)))
	}
	order, cmp := "DESC", "<"
	if f.Ascending {
		order, cmp = "ASC", ">"
	}
	if f.AfterSeq > 0 {
		where = append(where, "seq "+cmp+" "+arg(f.AfterSeq))
	}
	query := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY seq " + order + " LIMIT " + arg(f.Limit)
	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// WalkAudit streams events with fromSeq ≤ seq ≤ toSeq in chain order, a
// page at a time, so a chain of any length is walked in bounded memory.
func (q *queries) WalkAudit(ctx context.Context, fromSeq, toSeq int64, fn func(*audit.Event) bool) error {
	const page = 1000
	for next := fromSeq; next <= toSeq; {
		n, last, more, err := q.walkPage(ctx, next, toSeq, page, fn)
		if err != nil || !more || n < page {
			return err
		}
		next = last + 1
	}
	return nil
}

// walkPage feeds one page to fn; more is false once fn asked to stop.
func (q *queries) walkPage(ctx context.Context, from, to int64, limit int, fn func(*audit.Event) bool) (n int, last int64, more bool, err error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3`, from, to, limit)
	if err != nil {
		return 0, 0, false, err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return n, last, false, err
		}
		n, last = n+1, e.Seq
		if !fn(e) {
			return n, last, false, nil
		}
	}
	return n, last, true, rows.Err()
}

// AuditHashBefore is the hash of the event just before seq ("" if none).
func (q *queries) AuditHashBefore(ctx context.Context, seq int64) (string, error) {
	var h string
	err := q.r.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE seq < $1 ORDER BY seq DESC LIMIT 1`, seq).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return h, err
}

// dashboards
