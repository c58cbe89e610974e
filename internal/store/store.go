// Package store defines the persistence contract: one Store interface that
// the SQLite and PostgreSQL implementations both satisfy and one conformance
// suite (storetest) proves alike. It holds no SQL and imports only flow.
package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/google/uuid"

	"flowker/internal/audit"
	"flowker/internal/flow"
)

// Progress is a progress write a store encoded (Store.EncodeProgress). It
// holds no caller's value: any goroutine may pass it on.
type Progress interface {
	Execution() uuid.UUID
}

// NewExecution is an execution's insert a store encoded
// (Store.EncodeExecution). Like Progress, it holds no caller's value.
type NewExecution interface {
	Execution() uuid.UUID
}

// Tx is every operation, usable inside a transaction or on its own.
// Writes on existing rows are conditional on the revision the caller read:
// a lost race is flow.ErrStateChanged, never a silent overwrite.
type Tx interface {
	CreateWorkflow(ctx context.Context, w *flow.Workflow) error
	GetWorkflow(ctx context.Context, id uuid.UUID) (*flow.Workflow, error)
	// WorkflowRevision reads only the revision (every change raises it): a
	// cheap check that a copy held in memory is still current.
	WorkflowRevision(ctx context.Context, id uuid.UUID) (int, error)
	ListWorkflows(ctx context.Context, f flow.WorkflowFilter) (flow.Page[flow.Workflow], error)
	// UpdateWorkflow writes w if the stored revision is still prevRevision.
	UpdateWorkflow(ctx context.Context, w *flow.Workflow, prevRevision int) error
	// DeleteWorkflow removes the workflow if its revision is still prevRevision.
	DeleteWorkflow(ctx context.Context, id uuid.UUID, prevRevision int) error

	CreateProviderConfig(ctx context.Context, p *flow.ProviderConfig) error
	GetProviderConfig(ctx context.Context, id uuid.UUID) (*flow.ProviderConfig, error)
	ProviderConfigRevision(ctx context.Context, id uuid.UUID) (int, error)
	ListProviderConfigs(ctx context.Context, f flow.ConfigFilter) (flow.Page[flow.ProviderConfig], error)
	UpdateProviderConfig(ctx context.Context, p *flow.ProviderConfig, prevRevision int) error
	DeleteProviderConfig(ctx context.Context, id uuid.UUID, prevRevision int) error

	CreateExecutorConfig(ctx context.Context, e *flow.ExecutorConfig) error
	GetExecutorConfig(ctx context.Context, id uuid.UUID) (*flow.ExecutorConfig, error)
	ListExecutorConfigs(ctx context.Context, f flow.ConfigFilter) (flow.Page[flow.ExecutorConfig], error)
	UpdateExecutorConfig(ctx context.Context, e *flow.ExecutorConfig, prevRevision int) error
	DeleteExecutorConfig(ctx context.Context, id uuid.UUID, prevRevision int) error

	// SaveWorkflowVersion records the definition a revision runs (idempotent).
	SaveWorkflowVersion(ctx context.Context, v *flow.WorkflowVersion) error
	GetWorkflowVersion(ctx context.Context, workflowID uuid.UUID, revision int) (*flow.WorkflowVersion, error)
	// ReplaceWebhookRoutes makes routes the workflow's webhook routes; a route
	// another workflow owns is ErrWebhookRouteTaken.
	ReplaceWebhookRoutes(ctx context.Context, workflowID uuid.UUID, routes []flow.WebhookRoute) error
	FindWebhookRoute(ctx context.Context, method, path string) (*flow.WebhookRoute, error)

	// CreateExecution inserts a new execution; a key already used for the
	// workflow is ErrDuplicateIdempotencyKey.
	CreateExecution(ctx context.Context, e *flow.Execution) error
	// CreateEncodedExecution is CreateExecution of an insert
	// Store.EncodeExecution encoded (by this store) beforehand.
	CreateEncodedExecution(ctx context.Context, e NewExecution) error
	GetExecution(ctx context.Context, id uuid.UUID) (*flow.Execution, error)
	FindExecutionByKey(ctx context.Context, workflowID uuid.UUID, key string) (*flow.Execution, error)
	ListExecutions(ctx context.Context, f flow.ExecutionFilter) (flow.Page[flow.Execution], error)
	// ListSteps returns an execution's steps in step-number order.
	ListSteps(ctx context.Context, executionID uuid.UUID) ([]flow.Step, error)
	// ReadBackExecution reads the execution and its steps as this
	// transaction leaves them into got, cheaper than a read of its own:
	// on PostgreSQL with a group commit's last statements and COMMIT, in
	// its round trip; on SQLite from the writer's cache, which holds the
	// pages just written. got is what was committed only once the
	// transaction has; a store that does not read back, or a row it
	// cannot convert or decode, leaves it empty: read it then
	// (ExecutionWithSteps). It fails only with the transaction (the
	// database's own errors).
	ReadBackExecution(ctx context.Context, id uuid.UUID, got *ExecutionResults) error
	// ReadCatalogView fills view (NewCatalogView), once this transaction
	// has committed, with the catalog's generation as it read it after
	// its writes: on PostgreSQL a read of the catalog counter that
	// travels with them (one per transaction, shared by every caller of a
	// group commit), so that the lookups of the steps that start once the
	// write commits need no round trip of their own. A store whose lookups
	// ask the database nothing (SQLite), a transaction that changed the
	// catalog, and one that did not commit leave view as it was: unfilled,
	// its lookups read. It fails only with the transaction (the database's
	// own errors).
	ReadCatalogView(ctx context.Context, view *CatalogView) error
	// LockCatalog takes, before a transaction's checks, the lock every
	// catalog write takes at its first write (PostgreSQL: the catalog
	// counter's row), held until the transaction ends. Checks that read
	// other catalog rows — an activation reading the configurations its
	// nodes name, a delete reading the active workflows — then see every
	// catalog change committed before them, and none commits in between:
	// without it, both could pass their checks and commit. Nothing on
	// SQLite, whose write transactions run one at a time.
	LockCatalog(ctx context.Context) error

	// SaveProgress is a worker's write: new steps and the execution's
	// progress columns, fenced on the lease (ErrLeaseLost if another worker
	// took it over). It sets *cancelRequested (when not nil) to whether a
	// cancel was requested — inside a Batch as late as the commit (a
	// pipelined batch reads it with its other results): read it after
	// Batch returns.
	SaveProgress(ctx context.Context, owner string, e *flow.Execution, steps []flow.Step, cancelRequested *bool) error
	// SaveEncodedProgress is SaveProgress of a write Store.EncodeProgress
	// encoded (by this store) beforehand.
	SaveEncodedProgress(ctx context.Context, p Progress, cancelRequested *bool) error
	// ClaimExecutions leases up to limit unfinished executions whose lease is
	// absent or expired (PostgreSQL: FOR UPDATE SKIP LOCKED).
	// With reclaimOwn, owner's own leases count as expired too: a restarted
	// process with a stable owner id takes its work back at once.
	ClaimExecutions(ctx context.Context, owner string, now, until time.Time, limit int, reclaimOwn bool) ([]uuid.UUID, error)
	// ExtendLeases is the heartbeat of the unfinished executions among ids
	// that owner holds: only those its process is actually working on, so a
	// row it leased but lost track of lapses and is rescued. It returns how
	// many it extended. A row another transaction holds is waited for until
	// ctx's deadline, then left as it was (no error: the next beat waits
	// again), never skipped at once: the holder (another replica's cancel,
	// an operator's statement, a write that rolls back) need not extend the
	// lease, and one that lapsed under a process still working on it was
	// rescued and its call made again. PostgreSQL extends the free rows
	// first, then waits for the held ones one at a time, holding nothing
	// else; without a deadline, or inside a transaction (whose rows a wait
	// would hold), it skips them. SQLite's statement waits for the one
	// writer, until ctx ends.
	ExtendLeases(ctx context.Context, owner string, ids []uuid.UUID, until time.Time) (int, error)
	// ReleaseLeases hands owner's unfinished executions back at shutdown.
	ReleaseLeases(ctx context.Context, owner string, now time.Time) error
	// CountUnfinished is the queue depth: pending and running executions.
	CountUnfinished(ctx context.Context) (int64, error)
	// RequestCancel cancels a pending execution at once and flags a running
	// one for its worker; it returns the execution after the change.
	// changed is false when nothing changed: the execution had finished, or
	// a cancel was already requested.
	RequestCancel(ctx context.Context, id uuid.UUID, now time.Time) (ex *flow.Execution, changed bool, err error)
	// Requeue puts a failed or cancelled execution back in the queue, leased
	// to owner, for a retry from its failed step.
	Requeue(ctx context.Context, id uuid.UUID, owner string, now, until time.Time) (*flow.Execution, error)

	// Waits of executions (docs/waiting.md). Every change that may wake a
	// waiting execution first takes LockExecution, and the worker parking
	// one writes its progress (which takes the row) before it looks for
	// what arrived: so a decision, callback or timer is either seen by the
	// parking worker or finds the execution waiting and wakes it.

	// SaveWaits opens waits; a node that already has an open wait keeps it.
	SaveWaits(ctx context.Context, waits []flow.Wait) error
	// ListWaits returns an execution's waits, oldest first, with decisions.
	ListWaits(ctx context.Context, executionID uuid.UUID) ([]flow.Wait, error)
	GetWait(ctx context.Context, id uuid.UUID) (*flow.Wait, error)
	ListReviews(ctx context.Context, f flow.ReviewFilter) (flow.Page[flow.Wait], error)
	// ResolveWait closes an open wait with w's status, output, handle and
	// time; false when it was no longer open.
	ResolveWait(ctx context.Context, w *flow.Wait) (bool, error)
	// CancelWaits cancels an execution's open waits and returns them.
	CancelWaits(ctx context.Context, executionID uuid.UUID, now time.Time) ([]flow.Wait, error)
	// AddDecision records a review decision; a second one by the same
	// identity is flow.ErrAlreadyDecided.
	AddDecision(ctx context.Context, waitID uuid.UUID, d flow.Decision) error
	// AddSignal keeps a callback or signal; a second one of the same name
	// is flow.ErrSignalUsed.
	AddSignal(ctx context.Context, s *flow.Signal) error
	ListSignals(ctx context.Context, executionID uuid.UUID) ([]flow.Signal, error)
	// DueWaits returns up to limit open waits due by now, earliest first:
	// a read; resolving one takes its execution's row (LockExecution) and
	// is conditional on the wait being open (ResolveWait).
	DueWaits(ctx context.Context, now time.Time, limit int) ([]flow.Wait, error)
	// LockExecution reads an execution and holds its row until commit.
	// With skipLocked, a row another transaction holds (or none) is nil,
	// nil: a timer skips it this round rather than wait in lock order.
	LockExecution(ctx context.Context, id uuid.UUID, skipLocked bool) (*flow.Execution, error)
	// ParkExecution makes owner's running execution waiting, unleased
	// (ErrLeaseLost if owner no longer holds it).
	ParkExecution(ctx context.Context, owner string, id uuid.UUID, now time.Time) error
	// WakeExecution makes a waiting execution running, leased to owner
	// until until, or pending and unleased with owner "" (any process's
	// rescuer takes it); false when it was not waiting.
	WakeExecution(ctx context.Context, id uuid.UUID, owner string, now, until time.Time) (bool, error)
	// CountWaiting counts waiting executions and finds the oldest open review.
	CountWaiting(ctx context.Context) (waiting int64, oldestReview *time.Time, err error)

	// AppendAudit chains and inserts an event in the caller's transaction.
	AppendAudit(ctx context.Context, e *audit.Event) error
	GetAudit(ctx context.Context, id uuid.UUID) (*audit.Event, error)
	ListAudit(ctx context.Context, f audit.Filter) ([]audit.Event, error)
	// WalkAudit streams events fromSeq..toSeq in chain order until fn returns false.
	WalkAudit(ctx context.Context, fromSeq, toSeq int64, fn func(*audit.Event) bool) error
	AuditHashBefore(ctx context.Context, seq int64) (string, error)

	CountWorkflowsByStatus(ctx context.Context) (map[flow.WorkflowStatus]int64, error)
	CountExecutionsByStatus(ctx context.Context, from, to *time.Time, status flow.ExecutionStatus) (map[flow.ExecutionStatus]int64, error)
	// CountExecutionsBySlot counts the executions started in [from, to), of
	// one workflow unless workflowID is nil, by flow.SlotWidth slot and
	// status, ordered by slot then status; slots without executions are absent.
	CountExecutionsBySlot(ctx context.Context, from, to time.Time, workflowID *uuid.UUID) ([]flow.SlotCount, error)

	// Retention (docs/history.md), inside InTx.

	// TryLock takes the lock called name until the transaction ends, unless
	// another transaction holds it: false then, at once. SQLite: always
	// true (a write transaction already excludes every other writer).
	TryLock(ctx context.Context, name string) (bool, error)
	// FinishedExecutionsBefore returns up to limit completed, failed or
	// cancelled executions that completed before t, oldest first, and holds
	// their rows until the transaction ends (PostgreSQL skips rows another
	// transaction holds).
	FinishedExecutionsBefore(ctx context.Context, t time.Time, limit int) ([]flow.Execution, error)
	// DeleteExecutions deletes the finished executions among ids with their
	// steps, waits, decisions and signals, and returns how many it deleted;
	// an unfinished execution is left whole.
	DeleteExecutions(ctx context.Context, ids []uuid.UUID) (int, error)
	// ExecutionRecords calls fn, for each of ids in order, with what
	// ListSteps, ListWaits and ListSignals return for it, read in a few
	// statements for all of them.
	ExecutionRecords(ctx context.Context, ids []uuid.UUID,
		fn func(id uuid.UUID, steps []flow.Step, waits []flow.Wait, signals []flow.Signal) error) error
}

// Store-level outcomes the callers turn into domain answers.
var (
	ErrDuplicateIdempotencyKey = errors.New("idempotency key already used for this workflow")
	ErrLeaseLost               = errors.New("execution lease lost to another worker")
	ErrWebhookRouteTaken       = errors.New("webhook route already registered by another workflow")
	ErrAuditNotFound           = &flow.Error{Kind: flow.KindNotFound, Code: "FLK-0600", Message: "audit entry not found"}

	// ErrUnstorable: a value cannot be stored (a NUL character, invalid
	// UTF-8, or anything else the database refuses as data). Permanent: the
	// same value fails again. Errors matching it name what was refused.
	// flow.Error matches on the code, so errors.Is also matches any other
	// 400 with the generic invalid-body code.
	ErrUnstorable = &flow.Error{Kind: flow.KindInvalid, Code: flow.CodeInvalidBody,
		Message: "value cannot be stored"}
	// ErrUnavailable: the database cannot be reached or cannot take the work
	// now (connection refused or lost, server shutting down, too many
	// connections, lock or deadline timeout). Transient: retry later.
	ErrUnavailable = &flow.Error{Kind: flow.KindUnavailable, Code: CodeUnavailable,
		Message: "the database is unavailable; retry later"}
	// ErrOutcomeUnknown: a write's COMMIT was sent and its answer lost (the
	// connection dropped, the server went silent), so it may have
	// committed. It also matches ErrUnavailable. Sending the same writes
	// again is not safe — an insert would meet its own row, an audit event
	// could be chained twice: read back what is durable instead.
	ErrOutcomeUnknown = errors.New("the write's outcome is unknown: its COMMIT was sent and the answer lost")
)

// CodeUnavailable is ErrUnavailable's code: the next free code of the
// shared 00xx range (FLK-0010 rate limited, FLK-0011 identity provider
// unavailable), as it is not specific to one resource.
const CodeUnavailable = "FLK-0012"

// Unavailable wraps cause as ErrUnavailable; nil stays nil and an error
// already carrying a flow.Error kind is returned as is.
func Unavailable(cause error) error {
	var fe *flow.Error
	if cause == nil || errors.As(cause, &fe) {
		return cause
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, cause)
}

// OutcomeUnknown wraps cause as ErrOutcomeUnknown (and ErrUnavailable).
func OutcomeUnknown(cause error) error {
	if errors.Is(cause, ErrOutcomeUnknown) {
		return cause
	}
	return fmt.Errorf("%w: %w", ErrOutcomeUnknown, Unavailable(cause))
}

// Unstorable is an ErrUnstorable whose message says what was refused and
// why; cause (may be nil) is kept for errors.Is/As and logs only.
func Unstorable(cause error, format string, args ...any) error {
	e := flow.Invalidf(ErrUnstorable.Code, format, args...)
	if cause == nil {
		return e
	}
	return fmt.Errorf("%w: %w", e, cause)
}

// Transient reports whether err is worth retrying later, the same call
// unchanged: ErrUnavailable, a deadline that expired, a broken connection
// (driver.ErrBadConn, refused, reset, any net.Error), or a PostgreSQL
// SQLSTATE of class 08 (connection), 40 (serialization failure, deadlock),
// 53 (insufficient resources) or 57P01–57P05 (server shutting down). Every
// other error is permanent: ErrUnstorable and other flow.Error kinds,
// constraint violations, not found, cancellation by the caller.
// (SQLite's BUSY and LOCKED reach callers as ErrUnavailable.)
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var fe *flow.Error
	if errors.As(err, &fe) {
		return fe.Kind == flow.KindUnavailable
	}
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		return TransientSQLState(st.SQLState())
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF)
}

// TransientSQLState reports whether a PostgreSQL SQLSTATE is worth a retry:
// classes 08 (connection exception), 40 (serialization failure, deadlock)
// and 53 (insufficient resources), and 57P01, 57P02, 57P03, 57P05 (admin
// shutdown, crash shutdown, cannot connect now, idle session timeout).
func TransientSQLState(code string) bool {
	if len(code) != 5 {
		return false
	}
	switch code[:2] {
	case "08", "40", "53":
		return true
	case "57":
		return code == "57P01" || code == "57P02" || code == "57P03" || code == "57P05"
	}
	return false
}

// ExecutionResults is an execution with its steps, as of one moment.
type ExecutionResults struct {
	Execution *flow.Execution
	Steps     []flow.Step
}

// Store is a database. InTx runs fn in one transaction, committed when fn
// returns nil; service methods put a change and its audit entry in one.
type Store interface {
	Tx
	// AuditKey is the key that seals and verifies the audit chain.
	AuditKey() audit.Key
	// ExecutionWithSteps is GetExecution and ListSteps as of one moment
	// (one read-only transaction; on PostgreSQL one round trip).
	ExecutionWithSteps(ctx context.Context, id uuid.UUID) (*flow.Execution, []flow.Step, error)
	// EncodeProgress checks and encodes SaveProgress's values on the
	// caller's goroutine, for SaveEncodedProgress: the group commit's one
	// writer, which every write of the process waits for, then only runs
	// the statements. A value that cannot be stored is ErrUnstorable here.
	EncodeProgress(owner string, e *flow.Execution, steps []flow.Step) (Progress, error)
	// EncodeExecution is EncodeProgress for CreateEncodedExecution: the
	// new execution's values (its input above all) checked and encoded
	// on the caller's goroutine.
	EncodeExecution(e *flow.Execution) (NewExecution, error)
	InTx(ctx context.Context, fn func(Tx) error) error
	// Batch is InTx with group commit: concurrent callers share one
	// transaction, each inside its own savepoint, so one fsync serves many.
	// fn's error rolls back only fn's own writes. fn may be run again if
	// the shared commit fails, so it must not act outside the transaction.
	// The shared transaction has a deadline: past it, every caller in it
	// gets an error wrapping ErrUnavailable and its writes are rolled back.
	// On PostgreSQL, a round trip that carries COMMIT is not given up then:
	// the database is asked to cancel, and its answer decides (a COMMIT
	// that ran is reported committed, a little after the deadline). Only
	// an answer lost altogether leaves the outcome unknown, as with any
	// connection lost while committing.
	Batch(ctx context.Context, fn func(Tx) error) error
	// FoldExecutionCounts moves up to limit pending dashboard count changes
	// into the rollups, in a transaction of its own, and returns how many it
	// moved; counts are exact either way, folding keeps them fast. On
	// PostgreSQL it returns 0 at once while another process folds.
	FoldExecutionCounts(ctx context.Context, limit int) (int, error)
	Ping(ctx context.Context) error
	Close() error
	// Driver names the database for health output: "sqlite" or "postgresql".
	Driver() string
}
