package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"flowker/internal/audit"
	"flowker/internal/flow"
	"flowker/internal/store"
)

// History (docs/history.md): the dashboard rollups are folded, and, when a
// retention age is set, finished executions older than it are archived to
// files and removed from the database.

// RetentionPolicy says which executions leave the database, and where to.
type RetentionPolicy struct {
	// Age: executions that finished longer ago are archived. 0 keeps every
	// execution in the database (the default: nothing leaves unasked).
	Age time.Duration
	// ArchiveDir receives the archive files: shared by every process of a
	// deployment (any of them may run a batch).
	ArchiveDir string
	// BatchSize bounds the executions of one file and one transaction.
	BatchSize int
}

// HistoryOptions configures RunHistory.
type HistoryOptions struct {
	Retention      RetentionPolicy
	RetentionEvery time.Duration // how often old executions are looked for
	FoldEvery      time.Duration // how often dashboard count changes are folded; 0: every second
	// HeadEvery: how often OnHead is given the audit chain's newest event,
	// when it changed since; 0 never.
	HeadEvery time.Duration
	// OnArchived reports each run that archived something; OnHead the
	// chain's head (HeadEvery); OnError each failed fold or run (the loop
	// goes on). Any may be nil.
	OnArchived func(ArchiveResult)
	OnHead     func(audit.Event)
	OnError    func(op string, err error)
}

// retentionLock serialises archive batches across processes: one writer
// of the archive directory's manifests at a time.
const retentionLock = "retention"

// foldBatch is how many count changes one fold transaction takes.
const foldBatch = 5000

// defaultFoldEvery keeps the changes a count reads besides the rollups to
// about a second's worth.
const defaultFoldEvery = time.Second

// Audit vocabulary of retention.
const (
	actionArchive = "ARCHIVE"
	resArchive    = "execution_archive"
)

// RunHistory folds dashboard counts every FoldEvery and, when retention is
// on, archives every RetentionEvery (the first run one interval after the
// start), until ctx ends.
func (s *Service) RunHistory(ctx context.Context, o HistoryOptions) {
	report := func(op string, err error) {
		if err != nil && ctx.Err() == nil && o.OnError != nil {
			o.OnError(op, err)
		}
	}
	if o.FoldEvery <= 0 {
		o.FoldEvery = defaultFoldEvery
	}
	fold := time.NewTicker(o.FoldEvery)
	defer fold.Stop()
	var archive <-chan time.Time
	if o.Retention.Age > 0 {
		t := time.NewTicker(o.RetentionEvery)
		defer t.Stop()
		archive = t.C
	}
	var anchor <-chan time.Time
	if o.HeadEvery > 0 && o.OnHead != nil {
		t := time.NewTicker(o.HeadEvery)
		defer t.Stop()
		anchor = t.C
	}
	var logged int64 // the last head given to OnHead
	for {
		select {
		case <-ctx.Done():
			return
		case <-anchor:
			head, err := s.auditHead(ctx)
			report("audit head", err)
			if head != nil && head.Seq != logged {
				logged = head.Seq
				o.OnHead(*head)
			}
		case <-fold.C:
			report("fold", s.FoldExecutionCounts(ctx))
		case <-archive:
			res, err := s.ArchiveExecutions(ctx, o.Retention)
			report("archive", err)
			if res.Executions > 0 && o.OnArchived != nil {
				o.OnArchived(res)
			}
		}
	}
}

// FoldExecutionCounts folds dashboard count changes until none is left
// (or another process is folding them).
func (s *Service) FoldExecutionCounts(ctx context.Context) (err error) {
	ctx, end := s.op(ctx, "command.history.fold")
	defer end(&err)
	for {
		n, err := s.store.FoldExecutionCounts(ctx, foldBatch)
		if err != nil || n < foldBatch {
			return err
		}
	}
}

// ArchiveResult is what one ArchiveExecutions run did.
type ArchiveResult struct {
	Files      []string // archive files written, relative to the archive directory
	Executions int
	Cutoff     time.Time // executions that finished before it were due
}

// ArchiveExecutions archives, batch by batch, every finished execution
// that completed before now − p.Age, until none is left, ctx ends or
// another process holds the retention lock (it then archives them).
func (s *Service) ArchiveExecutions(ctx context.Context, p RetentionPolicy) (res ArchiveResult, err error) {
	ctx, end := s.op(ctx, "command.history.archive")
	defer end(&err)
	if p.Age <= 0 || p.ArchiveDir == "" || p.BatchSize <= 0 {
		return res, errors.New("retention needs an age, an archive directory and a batch size")
	}
	res.Cutoff = s.now().Add(-p.Age)
	for ctx.Err() == nil {
		began := time.Now()
		entry, err := s.archiveBatch(ctx, p, res.Cutoff)
		if err != nil || entry == nil {
			return res, err
		}
		res.Files = append(res.Files, entry.File)
		res.Executions += entry.Executions
		// A backlog takes at most half the database's time: on SQLite a
		// batch holds the only writer, which live executions need.
		select {
		case <-ctx.Done():
		case <-time.After(time.Since(began)):
		}
	}
	return res, ctx.Err()
}

// archiveBatch archives one batch in one transaction: it locks the
// executions, writes them with their steps, waits and signals to a file
// made durable (and listed in its day's manifest) before it deletes them,
// and records the file's digest in the audit chain with the delete. A
// crash or failure before the commit leaves the rows in place and the
// file as a duplicate; never a deleted row without its archive. nil: no
// batch (nothing due, or another process holds the lock).
func (s *Service) archiveBatch(ctx context.Context, p RetentionPolicy, cutoff time.Time) (*ArchiveEntry, error) {
	var entry *ArchiveEntry
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		if ok, err := tx.TryLock(ctx, retentionLock); err != nil || !ok {
			return err
		}
		es, err := tx.FinishedExecutionsBefore(ctx, cutoff, p.BatchSize)
		if err != nil || len(es) == 0 {
			return err
		}
		es = sameCompletionDay(es)
		batch := s.newID()
		file, err := createArchiveFile(p.ArchiveDir, es[0].CompletedAt.UTC(), batch)
		if err != nil {
			return err
		}
		defer file.discard()
		ids := make([]uuid.UUID, len(es))
		for i := range es {
			ids[i] = es[i].ID
		}
		i := 0 // ExecutionRecords calls back in the order of ids
		if err := tx.ExecutionRecords(ctx, ids, func(_ uuid.UUID, steps []flow.Step, waits []flow.Wait, signals []flow.Signal) error {
			i++
			return file.write(&es[i-1], steps, waits, signals)
		}); err != nil {
			return err
		}
		written, err := file.commit(s.now())
		if err != nil {
			return err
		}
		deleted, err := tx.DeleteExecutions(ctx, ids)
		if err != nil {
			return err
		}
		if deleted != len(ids) { // the rows are locked: a bug, not a race
			return fmt.Errorf("archived %d executions but deleted %d; nothing deleted", len(ids), deleted)
		}
		if err := tx.AppendAudit(ctx, s.archiveEvent(ctx, batch, cutoff, written)); err != nil {
			return err
		}
		entry = written
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archiving executions: %w", err)
	}
	return entry, nil
}

// sameCompletionDay keeps the leading executions that completed on the
// first one's UTC day: each file belongs to one day's directory.
func sameCompletionDay(es []flow.Execution) []flow.Execution {
	day := es[0].CompletedAt.UTC().Truncate(24 * time.Hour)
	for i := range es {
		if !es[i].CompletedAt.UTC().Truncate(24 * time.Hour).Equal(day) {
			return es[:i]
		}
	}
	return es
}

// archiveEvent records a file in the chain: its path and digest make the
// file as tamper-evident as the chain itself (docs/history.md).
func (s *Service) archiveEvent(ctx context.Context, batch uuid.UUID, cutoff time.Time, e *ArchiveEntry) *audit.Event {
	return s.auditEvent(ctx, audit.ExecutionsArchived, actionArchive, "SUCCESS", resArchive, batch.String(), map[string]any{
		"file": e.File, "sha256": e.SHA256, "bytes": e.Bytes, "executions": e.Executions, "steps": e.Steps,
		"waits": e.Waits, "signals": e.Signals, "byStatus": e.ByStatus, "cutoff": cutoff.Format(time.RFC3339Nano),
		"firstCompletedAt": e.FirstCompletedAt.Format(time.RFC3339Nano),
		"lastCompletedAt":  e.LastCompletedAt.Format(time.RFC3339Nano),
	})
}
