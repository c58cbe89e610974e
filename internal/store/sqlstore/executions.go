package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
	"flowker/internal/store"
)

var executions = &table[flow.Execution]{
	name: "executions",
	columns: []string{"id", "workflow_id", "workflow_revision", "trigger_node_id", "status", "input", "output",
		"error_message", "idempotency_key", "request_hash", "trace_parent", "trace_state", "baggage", "current_step", "total_steps",
		"cancel_requested", "lease_owner", "lease_expires_at", "started_at", "completed_at", "updated_at"},
	args: func(e *flow.Execution) ([]any, error) {
		in, err1 := marshalJSON("execution input", e.Input, "{}")
		out, err2 := nullJSON("execution output", e.Output)
		err := firstErr(checkTexts("trigger node id", e.TriggerNodeID, "execution error message", e.ErrorMessage,
			"idempotency key", e.IdempotencyKey, "request hash", e.RequestHash, "trace parent", e.TraceParent,
			"trace state", e.TraceState, "baggage", e.Baggage),
			err1, err2)
		var key any
		if e.IdempotencyKey != "" {
			key = e.IdempotencyKey
		}
		return []any{e.ID.String(), e.WorkflowID.String(), e.WorkflowRevision, e.TriggerNodeID, string(e.Status),
			in, out, e.ErrorMessage, key, e.RequestHash, e.TraceParent, e.TraceState, e.Baggage, e.CurrentStep,
			e.TotalSteps, e.CancelRequested, e.LeaseOwner, nullTimeArg(e.LeaseExpiresAt), timeArg(e.StartedAt),
			nullTimeArg(e.CompletedAt), timeArg(e.UpdatedAt)}, err
	},
	scan: func(s scanner) (*flow.Execution, error) {
		var e flow.Execution
		var status string
		var in, out []byte
		var key sql.NullString
		if err := s.Scan(dbUUID{&e.ID}, dbUUID{&e.WorkflowID}, &e.WorkflowRevision, &e.TriggerNodeID, &status,
			&in, &out, &e.ErrorMessage, &key, &e.RequestHash, &e.TraceParent, &e.TraceState, &e.Baggage,
			&e.CurrentStep, &e.TotalSteps, &e.CancelRequested, &e.LeaseOwner, dbNullTime{&e.LeaseExpiresAt}, dbTime{&e.StartedAt},
			dbNullTime{&e.CompletedAt}, dbTime{&e.UpdatedAt}); err != nil {
			return nil, err
		}
		e.Status, e.IdempotencyKey = flow.ExecutionStatus(status), key.String
		if len(out) == 0 {
			out = []byte("null")
		}
		return &e, unmarshalJSON("execution "+e.ID.String(), in, &e.Input, out, &e.Output)
	},
	id:       func(e *flow.Execution) uuid.UUID { return e.ID },
	sorts:    map[string]string{"startedAt": "started_at", "completedAt": "completed_at"},
	nullable: map[string]bool{"completed_at": true},
	sortValue: func(e *flow.Execution, by string) string {
		if by == "completedAt" && e.CompletedAt != nil {
			return timeArg(*e.CompletedAt)
		}
		return timeArg(e.StartedAt)
	},
	notFound: flow.ErrExecutionNotFound,
	conflict: store.ErrDuplicateIdempotencyKey,
}

// nullJSON encodes v, or NULL for a nil map.
func nullJSON(what string, v map[string]any) (any, error) {
	if v == nil {
		return nil, nil
	}
	return marshalJSON(what, v, "{}")
}

// CreateExecution inserts the execution: EncodeExecution, then
// CreateEncodedExecution.
func (q *queries) CreateExecution(ctx context.Context, e *flow.Execution) error {
	enc, err := encodeExecution(e)
	if err != nil {
		return err
	}
	return q.CreateEncodedExecution(ctx, enc)
}

// encodedExecution is an execution's insert with every value encoded and
// checked: only text and numbers, so any goroutine may run it, and every
// attempt of a batch runs the same statement.
type encodedExecution struct {
	id     uuid.UUID
	insert Pipelined
}

func (e *encodedExecution) Execution() uuid.UUID { return e.id }

// EncodeExecution encodes on the caller's goroutine, as EncodeProgress does:
// the input's JSON is the largest value a start writes, and the one
// group-commit writer every write waits for then only runs the statement.
func (s *DB) EncodeExecution(e *flow.Execution) (store.NewExecution, error) {
	return encodeExecution(e)
}

func encodeExecution(e *flow.Execution) (*encodedExecution, error) {
	insert, err := executions.insertStatement(e)
	if err != nil {
		return nil, err
	}
	return &encodedExecution{id: e.ID, insert: insert}, nil
}

// CreateEncodedExecution inserts an encoded execution; under a guarded
// catalog view, on the condition that the catalog has not changed since
// its lookups.
func (q *queries) CreateEncodedExecution(ctx context.Context, ne store.NewExecution) error {
	e, ok := ne.(*encodedExecution)
	if !ok {
		return fmt.Errorf("execution %s was not encoded by this store", ne.Execution())
	}
	if err := q.guardCatalog(ctx); err != nil {
		return err
	}
	// Later: in a pipelined batch a refused insert fails the batch, which
	// runs again statement by statement and then translates the error here.
	return executions.translate(q, q.w.Later(ctx, e.insert))
}

func (q *queries) GetExecution(ctx context.Context, id uuid.UUID) (*flow.Execution, error) {
	return executions.get(ctx, q.r, id)
}

func (q *queries) FindExecutionByKey(ctx context.Context, workflowID uuid.UUID, key string) (*flow.Execution, error) {
	if !storable(key) {
		return nil, flow.ErrExecutionNotFound // no execution can hold such a key
	}
	e, err := executions.scan(q.w.QueryRowContext(ctx, executions.selectSQL()+
		" WHERE workflow_id = $1 AND idempotency_key = $2", workflowID.String(), key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flow.ErrExecutionNotFound
	}
	return e, err
}

func (q *queries) ListExecutions(ctx context.Context, f flow.ExecutionFilter) (flow.Page[flow.Execution], error) {
	wf := ""
	if f.WorkflowID != uuid.Nil {
		wf = f.WorkflowID.String()
	}
	return executions.list(ctx, q, []filter{eq("workflow_id", wf), eq("status", string(f.Status)),
		timeBound("started_at", ">=", f.StartedFrom), timeBound("started_at", "<=", f.StartedTo)}, f.Page)
}

const stepColumns = `execution_id, step_number, node_id, name, status, input, output, error_message, attempts,
	call_details, started_at, completed_at`

func (q *queries) ListSteps(ctx context.Context, executionID uuid.UUID) ([]flow.Step, error) {
	steps, err := q.stepsOf(ctx, "($1)", []any{executionID.String()})
	return steps[executionID], err
}

// SaveProgress writes a worker's progress: EncodeProgress, then
// SaveEncodedProgress.
func (q *queries) SaveProgress(ctx context.Context, owner string, e *flow.Execution, steps []flow.Step,
	cancelRequested *bool) error {
	p, err := encodeProgress(q.d, owner, e, steps)
	if err != nil {
		return err
	}
	return q.SaveEncodedProgress(ctx, p, cancelRequested)
}

// encodedProgress is a progress write with every value encoded and checked:
// the execution's update (fenced on the lease owner), then few multi-row
// inserts of the steps (few round trips on PostgreSQL). It holds no
// caller's value (only text and numbers), so any goroutine may run it.
type encodedProgress struct {
	id     uuid.UUID
	update Pipelined // its Row handler is set by each save
	steps  []Pipelined
}

func (p *encodedProgress) Execution() uuid.UUID { return p.id }

// EncodeProgress encodes on the caller's goroutine: every progress write of
// the process waits for the one group-commit writer, which then only runs
// the statements. A value that cannot be stored is refused here, before
// anything is written.
func (s *DB) EncodeProgress(owner string, e *flow.Execution, steps []flow.Step) (store.Progress, error) {
	return encodeProgress(s.d, owner, e, steps)
}

func encodeProgress(d *Dialect, owner string, e *flow.Execution, steps []flow.Step) (*encodedProgress, error) {
	out, err := nullJSON("execution output", e.Output)
	if err == nil {
		err = checkText("execution error message", e.ErrorMessage)
	}
	if err != nil {
		return nil, err
	}
	stepRows := make([][]any, len(steps))
	for i := range steps {
		if stepRows[i], err = stepArgs(&steps[i]); err != nil {
			return nil, err
		}
	}
	p := &encodedProgress{id: e.ID, update: Pipelined{SQL: progressUpdate, Args: []any{string(e.Status),
		nullTimeArg(e.CompletedAt), out, e.ErrorMessage, e.CurrentStep, e.TotalSteps, timeArg(e.UpdatedAt),
		nullTimeArg(e.LeaseExpiresAt), e.ID.String(), owner}}}
	if e.Status == flow.ExecRunning && e.CompletedAt == nil { // the same values less status and completion, then the fence
		p.update = Pipelined{SQL: runningUpdate, Args: append(p.update.Args[2:], string(e.Status))}
	}
	if fenced, ok := d.fenced[p.update.SQL]; ok { // the server checks the lease itself
		p.update.SQL, p.update.Checked = fenced, true
	}
	for len(stepRows) > 0 {
		chunk := stepRows[:rowChunk(len(stepRows), stepsPerInsert)]
		stepRows = stepRows[len(chunk):]
		p.steps = append(p.steps, insertRows(`INSERT INTO execution_steps (`+stepColumns+`)`, 12, slices.Concat(chunk...)))
	}
	return p, nil
}

// SaveEncodedProgress runs an encoded progress write, one statement per
// kind of row. The update writes nothing for a worker that lost its lease
// (it stalled past expiry and another took over): ErrLeaseLost. Where the
// dialect fences leases (Dialect.FenceLease), the server fails it then.
func (q *queries) SaveEncodedProgress(ctx context.Context, progress store.Progress, cancelRequested *bool) error {
	p, ok := progress.(*encodedProgress)
	if !ok {
		return fmt.Errorf("progress of execution %s was not encoded by this store", progress.Execution())
	}
	update := p.update
	update.Row = func(r scanner) error {
		var cancel bool
		err := r.Scan(&cancel)
		if errors.Is(err, sql.ErrNoRows) || (q.d.IsLeaseLost != nil && q.d.IsLeaseLost(err)) {
			return store.ErrLeaseLost
		}
		if err == nil && cancelRequested != nil {
			*cancelRequested = cancel
		}
		return err
	}
	if err := q.w.Later(ctx, update); err != nil {
		return err
	}
	for _, st := range p.steps {
		if err := q.w.Later(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// progressUpdate writes an execution's progress and its status (the
// terminal write); runningUpdate the progress of a running execution. The
// second names neither status nor completed_at: SQLite rewrites the entries
// of every index holding a column an UPDATE sets, even to the same value
// (seven indexes here, and the dashboard trigger), and PostgreSQL can then
// update the row in place. It is fenced on the status too: a row an owner
// holds unfinished is running, and one that is not is not silently kept.
// The fence compares status joined to an empty text, which no index
// holds: a plan PostgreSQL made on a small table (and keeps for the
// connection's life) otherwise read the status index's every 'running'
// entry, live or dead, instead of the row by its id
// (TestWritesByIDFindTheRowByID).
const (
	progressUpdate = `UPDATE executions SET status = $1, completed_at = $2, output = $3, error_message = $4,
		current_step = $5, total_steps = $6, updated_at = $7, lease_expires_at = $8
		WHERE id = $9 AND lease_owner = $10 RETURNING cancel_requested`
	runningUpdate = `UPDATE executions SET output = $1, error_message = $2,
		current_step = $3, total_steps = $4, updated_at = $5, lease_expires_at = $6
		WHERE id = $7 AND lease_owner = $8 AND status || '' = $9 RETURNING cancel_requested`
)

// stepsPerInsert bounds one multi-row INSERT (12 parameters a row).
const stepsPerInsert = 64

// stepArgs encodes and checks a step's row, in stepColumns order.
func stepArgs(st *flow.Step) ([]any, error) {
	what := "step " + st.NodeID
	in, err1 := marshalJSON(what+" input", st.Input, "null")
	out, err2 := marshalJSON(what+" output", st.Output, "null")
	details, err3 := marshalJSON(what+" call details", st.CallDetails, "null")
	if err := firstErr(checkTexts("step node id", st.NodeID, "step name", st.Name,
		"step error message", st.ErrorMessage), err1, err2, err3); err != nil {
		return nil, err
	}
	return []any{st.ExecutionID.String(), st.Number, st.NodeID, st.Name, string(st.Status), nullIfJSONNull(in),
		nullIfJSONNull(out), st.ErrorMessage, st.Attempts, nullIfJSONNull(details),
		timeArg(st.StartedAt), timeArg(st.CompletedAt)}, nil
}

func nullIfJSONNull(s string) any {
	if s == "null" {
		return nil
	}
	return s
}

// ClaimExecutions leases unfinished executions with no live lease, oldest
// first. PostgreSQL skips rows other processes are claiming right now;
// SQLite's single writer serialises claims anyway.
func (q *queries) ClaimExecutions(ctx context.Context, owner string, now, until time.Time, limit int, reclaimOwn bool) ([]uuid.UUID, error) {
	own := ""
	if reclaimOwn {
		own = owner
	}
	rows, err := q.w.QueryContext(ctx, `UPDATE executions SET lease_owner = $1, lease_expires_at = $2,
		status = CASE WHEN status = 'pending' THEN 'running' ELSE status END, updated_at = $3
		WHERE id IN (SELECT id FROM executions WHERE status IN ('pending', 'running')
			AND (lease_expires_at IS NULL OR lease_expires_at < $3 OR lease_owner = $5)
			ORDER BY started_at LIMIT $4`+q.d.SkipLocked+`)
		RETURNING id`, owner, timeArg(until), timeArg(now), limit, own)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(dbUUID{&id}); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// leaseChunk bounds the ids of one heartbeat statement (placeholders).
const leaseChunk = 512

// ExtendLeases in a transaction extends the rows no other transaction
// holds (on PostgreSQL it skips the others: waiting for them there would
// hold this transaction's rows meanwhile). DB.ExtendLeases, the heartbeat's,
// waits for them.
func (q *queries) ExtendLeases(ctx context.Context, owner string, ids []uuid.UUID, until time.Time) (int, error) {
	n, _, err := q.extendFreeLeases(ctx, owner, ids, until)
	return n, err
}

// extendFreeLeases extends the leases among ids that owner holds on
// unfinished executions, skipping on PostgreSQL every row another
// transaction holds: waiting for them in arbitrary order, holding the rows
// already extended, deadlocked with group-commit transactions. On
// PostgreSQL rest lists the ids it did not extend: those rows, and those
// not owner's or finished (it cannot tell them apart). SQLite's single
// writer holds no row apart from the others: rest is nil.
func (q *queries) extendFreeLeases(ctx context.Context, owner string, ids []uuid.UUID, until time.Time) (total int, rest []uuid.UUID, err error) {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), leaseChunk)]
		ids = ids[len(chunk):]
		values := make([]any, len(chunk))
		for i, id := range chunk {
			values[i] = id.String()
		}
		marks, values := inList(3, values)
		args := append([]any{owner, timeArg(until)}, values...)
		stmt := `UPDATE executions SET lease_expires_at = $2
			WHERE id IN (SELECT id FROM executions WHERE id IN ` + marks + `
				AND lease_owner = $1 AND status IN ('pending', 'running')` + q.d.SkipLocked + `) AND lease_owner = $1`
		if q.d.SkipLocked == "" {
			n, err := q.execCount(ctx, stmt, args...)
			total += n
			if err != nil {
				return total, nil, err
			}
			continue
		}
		extended, err := q.extendedIDs(ctx, stmt+` RETURNING id`, args)
		total += len(extended)
		if err != nil {
			return total, rest, err
		}
		for _, id := range chunk {
			if _, ok := extended[id]; !ok {
				rest = append(rest, id)
			}
		}
	}
	return total, rest, nil
}

// extendedIDs runs a lease update returning the ids it extended.
func (q *queries) extendedIDs(ctx context.Context, stmt string, args []any) (map[uuid.UUID]struct{}, error) {
	rows, err := q.w.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	extended := map[uuid.UUID]struct{}{}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(dbUUID{&id}); err != nil {
			return extended, err
		}
		extended[id] = struct{}{}
	}
	return extended, rows.Err()
}

// heldLeaseMargin is what a wait for a held row leaves of ctx's time: the
// server's lock_timeout ends the wait first, and the transaction rolls back
// cleanly instead of its statement being cancelled half-way (pgx may then
// drop the connection).
const heldLeaseMargin = 50 * time.Millisecond

// ExtendLeases is the heartbeat (store.Tx.ExtendLeases). Outside a
// transaction, on PostgreSQL, a row another transaction holds is not given
// up: that transaction may be another replica's cancel waiting for the
// audit chain's lock, an operator's statement, or a write of this process
// that then rolls back, none of which extends the lease. Once the free
// rows are extended, the held ones are waited for one at a time, each in a
// transaction of its own holding nothing else (so the wait cannot close a
// cycle with a group commit holding several rows), under a lock_timeout
// that ends with ctx's deadline; when one is obtained, its holder has
// ended, and the rest are tried again without waiting. Without a deadline
// nothing is waited for. While this waits, the row's lock queue has it
// first: once the holder ends, a rescuer's claim (SKIP LOCKED) skips the
// row until this extension has committed. That transaction is implicit,
// one message the server runs and commits without waiting for this process
// (extendHeldLease): a process that stalls while it waits (SIGSTOP, a VM
// pause, a partition) holds the row no longer than the UPDATE, and its
// lease lapses, for a rescuer to claim, like any stalled process's.
func (s *DB) ExtendLeases(ctx context.Context, owner string, ids []uuid.UUID, until time.Time) (int, error) {
	total, held, err := s.extendFreeLeases(ctx, owner, ids, until)
	deadline, bounded := ctx.Deadline()
	for err == nil && len(held) > 0 && bounded {
		wait := time.Until(deadline) - heldLeaseMargin
		if wait < heldLeaseMargin {
			break
		}
		var n int
		n, err = s.extendHeldLease(ctx, owner, held[0], until, wait)
		if isLockTimeout(err) {
			return total, nil // held through the wait: the next beat waits again
		}
		total += n
		held = held[1:]
		if err == nil && n == 1 && len(held) > 0 { // its holder ended: the rows it held are free now
			n, held, err = s.extendFreeLeases(ctx, owner, held, until)
			total += n
		}
	}
	return total, err
}

// extendHeldLease extends one lease, waiting up to wait for its row. The
// lock_timeout and the UPDATE go in one simple-protocol message with no
// parameters (database/sql passes none to pgx, which then sends a Query
// message, not Parse/Bind/Execute), so the server runs them as one implicit
// transaction (SET LOCAL applies to it alone) and commits it as soon as the
// UPDATE is done. No COMMIT from the client: once the server grants the row
// after the wait, it holds it only for the statement, even if this process
// stalls meanwhile (SIGSTOP, a VM pause, a partition). An explicit
// transaction here sat idle in transaction for the whole stall, holding the
// row while its lease lapsed, and every rescuer's claim (SKIP LOCKED)
// skipped it. Hence the values are inlined, each by its own format: the id
// as a uuid's text, until as timeArg's, owner by quoteLiteral.
func (s *DB) extendHeldLease(ctx context.Context, owner string, id uuid.UUID, until time.Time, wait time.Duration) (int, error) {
	ownerLit, err := quoteLiteral(owner)
	if err != nil {
		return 0, err
	}
	return s.execCount(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = '%dms';
		UPDATE executions SET lease_expires_at = '%s'
		WHERE id = '%s' AND lease_owner = %s AND status IN ('pending', 'running')`,
		wait.Milliseconds(), timeArg(until), id.String(), ownerLit))
}

// quoteLiteral returns s as a PostgreSQL string constant, read the same
// whatever standard_conforming_strings says: an escape string (E'…') with
// every backslash and quote doubled, so that none starts an escape or ends
// the constant. In UTF-8, pgx's client encoding, no byte of a multi-byte
// character is a quote or a backslash. A NUL, which no text value holds and
// which would end the message's query string, is refused.
func quoteLiteral(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("a string holding a NUL byte cannot be a text value: %q", s)
	}
	return "E'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'", nil
}

// isLockTimeout: a statement gave up waiting for a lock (PostgreSQL's
// lock_not_available, which lock_timeout raises).
func isLockTimeout(err error) bool {
	var st interface{ SQLState() string }
	return errors.As(err, &st) && st.SQLState() == "55P03"
}

func (q *queries) ReleaseLeases(ctx context.Context, owner string, now time.Time) error {
	_, err := q.w.ExecContext(ctx, releaseLeases, owner, timeArg(now))
	return err
}

func (q *queries) CountUnfinished(ctx context.Context) (int64, error) {
	var n int64
	err := q.r.QueryRowContext(ctx, countUnfinished).Scan(&n)
	return n, err
}

// Both read the unfinished rows only (two short ranges of a status-led
// index); no index on the owner is kept for the first, which runs once per
// shutdown, while every execution paid for it (docs/history.md).
const (
	releaseLeases = `UPDATE executions SET lease_expires_at = $2, lease_owner = ''
		WHERE lease_owner = $1 AND status IN ('pending', 'running')`
	countUnfinished = `SELECT count(*) FROM executions WHERE status IN ('pending', 'running')`
)

func (q *queries) RequestCancel(ctx context.Context, id uuid.UUID, now time.Time) (*flow.Execution, bool, error) {
	t := timeArg(now)
	n, err := q.execCount(ctx, `UPDATE executions SET cancel_requested = TRUE, updated_at = $2,
		status = CASE WHEN status IN ('pending', 'waiting') THEN 'cancelled' ELSE status END,
		completed_at = CASE WHEN status IN ('pending', 'waiting') THEN $2 ELSE completed_at END,
		error_message = CASE WHEN status IN ('pending', 'waiting') THEN 'cancelled' ELSE error_message END
		WHERE id = $1 AND status IN ('pending', 'running', 'waiting') AND NOT cancel_requested`, id.String(), t)
	if err != nil {
		return nil, false, err
	}
	e, err := executions.get(ctx, q.w, id)
	return e, n == 1, err
}

func (q *queries) Requeue(ctx context.Context, id uuid.UUID, owner string, now, until time.Time) (*flow.Execution, error) {
	res, err := q.w.ExecContext(ctx, `UPDATE executions SET status = 'running', cancel_requested = FALSE,
		error_message = '', completed_at = NULL, output = NULL, lease_owner = $2, lease_expires_at = $3,
		updated_at = $4 WHERE id = $1 AND status IN ('failed', 'cancelled')`,
		id.String(), owner, timeArg(until), timeArg(now))
	if err != nil {
		return nil, err
	}
	e, err := executions.get(ctx, q.w, id)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return e, flow.Errorf(flow.KindUnprocessable, flow.CodeNotRetryable,
			"only a failed or cancelled execution can be retried; this one is %s", e.Status)
	}
	return e, nil
}

// workflow versions and webhook routes

func (q *queries) SaveWorkflowVersion(ctx context.Context, v *flow.WorkflowVersion) error {
	def, err := marshalJSON("workflow definition",
		versionDoc{Name: v.Definition.Name, Nodes: v.Definition.Nodes, Edges: v.Definition.Edges}, "{}")
	if err != nil {
		return err
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO workflow_versions (workflow_id, revision, definition, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (workflow_id, revision) DO NOTHING`,
		v.WorkflowID.String(), v.Revision, def, timeArg(v.CreatedAt))
	return err
}

// versionDoc is the stored part of a definition: what the engine runs.
type versionDoc struct {
	Name  string      `json:"name"`
	Nodes []flow.Node `json:"nodes"`
	Edges []flow.Edge `json:"edges"`
}

func (q *queries) GetWorkflowVersion(ctx context.Context, workflowID uuid.UUID, revision int) (*flow.WorkflowVersion, error) {
	v := flow.WorkflowVersion{WorkflowID: workflowID, Revision: revision}
	var def []byte
	err := q.r.QueryRowContext(ctx, `SELECT definition, created_at FROM workflow_versions
		WHERE workflow_id = $1 AND revision = $2`, workflowID.String(), revision).Scan(&def, dbTime{&v.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flow.ErrWorkflowNotFound
	}
	if err != nil {
		return nil, err
	}
	var doc versionDoc
	if err := unmarshalJSON("workflow version", def, &doc); err != nil {
		return nil, err
	}
	v.Definition = flow.Definition{Name: doc.Name, Nodes: doc.Nodes, Edges: doc.Edges}
	return &v, nil
}

func (q *queries) ReplaceWebhookRoutes(ctx context.Context, workflowID uuid.UUID, routes []flow.WebhookRoute) error {
	for _, r := range routes {
		if err := checkTexts("webhook method", r.Method, "webhook path", r.Path, "webhook node id", r.NodeID,
			"webhook verify token", r.VerifyToken); err != nil {
			return err
		}
	}
	defer q.changingCatalog()()
	defer q.replacingSealed()() // their verify tokens
	if _, err := q.w.ExecContext(ctx, `DELETE FROM webhook_routes WHERE workflow_id = $1`, workflowID.String()); err != nil {
		return err
	}
	if err := q.checkRoutesFree(ctx, routes); err != nil {
		return err
	}
	for _, r := range routes {
		_, err := q.w.ExecContext(ctx, `INSERT INTO webhook_routes (method, path, workflow_id, node_id, verify_token)
			VALUES ($1, $2, $3, $4, $5)`, strings.ToUpper(r.Method), r.Path, workflowID.String(), r.NodeID, r.VerifyToken)
		if err != nil && q.d.IsUniqueViolation(err) {
			return store.ErrWebhookRouteTaken
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkRoutesFree refuses routes another workflow's route meets
// (flow.WebhookPathsMeet: one call could reach both); the same text is the
// primary key's to refuse. Catalog writes are serialised (the catalog lock
// on PostgreSQL, one writer on SQLite), so nothing slips in between.
func (q *queries) checkRoutesFree(ctx context.Context, routes []flow.WebhookRoute) error {
	if len(routes) == 0 {
		return nil
	}
	rows, err := q.w.QueryContext(ctx, `SELECT method, path FROM webhook_routes
		WHERE path LIKE '%!%%' ESCAPE '!' OR path IN `+placeholders(1, len(routes)), decodedPaths(routes)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var method, path string
		if err := rows.Scan(&method, &path); err != nil {
			return err
		}
		for _, r := range routes {
			if strings.EqualFold(method, r.Method) && flow.WebhookPathsMeet(path, r.Path) {
				return store.ErrWebhookRouteTaken
			}
		}
	}
	return rows.Err()
}

// decodedPaths are the routes' paths percent-decoded: the stored paths a
// call to one of them reaches once decoded.
func decodedPaths(routes []flow.WebhookRoute) []any {
	out := make([]any, len(routes))
	for i, r := range routes {
		out[i] = flow.DecodedWebhookPath(r.Path)
	}
	return out
}

func (q *queries) FindWebhookRoute(ctx context.Context, method, path string) (*flow.WebhookRoute, error) {
	key, ok := routeKeyOf(method, path)
	if !ok {
		return nil, flow.ErrWebhookNotFound
	}
	r := flow.WebhookRoute{}
	err := q.r.QueryRowContext(ctx, `SELECT method, path, workflow_id, node_id, verify_token FROM webhook_routes
		WHERE method = $1 AND path = $2`, key.method, key.path).
		Scan(&r.Method, &r.Path, dbUUID{&r.WorkflowID}, &r.NodeID, &r.VerifyToken)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flow.ErrWebhookNotFound
	}
	return &r, err
}
