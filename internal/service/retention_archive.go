package service

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

// The archive's files (docs/history.md): per UTC day of completion a
// directory, in it one gzip-compressed JSON Lines file per batch (one line
// per execution, with its steps, waits and signals) and MANIFEST.json,
// which lists the day's files with their counts and SHA-256.

// ArchiveFormat names the layout of archive files and manifests.
const ArchiveFormat = "flowker.executions-archive/v1"

// manifestName is each day directory's list of its files.
const manifestName = "MANIFEST.json"

// ArchiveEntry describes one archive file, in its day's manifest.
type ArchiveEntry struct {
	File             string                       `json:"file"`   // relative to the archive directory, slash-separated
	SHA256           string                       `json:"sha256"` // of the file's bytes, hex
	Bytes            int64                        `json:"bytes"`
	Executions       int                          `json:"executions"`
	Steps            int                          `json:"steps"`
	Waits            int                          `json:"waits"`
	Signals          int                          `json:"signals"`
	ByStatus         map[flow.ExecutionStatus]int `json:"byStatus"`
	FirstCompletedAt time.Time                    `json:"firstCompletedAt"`
	LastCompletedAt  time.Time                    `json:"lastCompletedAt"`
	WrittenAt        time.Time                    `json:"writtenAt"`
}

type manifest struct {
	Format string         `json:"format"`
	Day    string         `json:"day"`
	Files  []ArchiveEntry `json:"files"`
}

// The archived record of an execution: the flow types with the JSON names
// of the format. Each is a conversion of its flow type, so a field added
// there fails to compile here until the format says how it is archived.
type (
	archivedExecution struct {
		Execution archivedRun           `json:"execution"`
		Steps     []archivedStep        `json:"steps"`
		Waits     []archivedWaitRecord  `json:"waits"`
		Signals   []archivedSignalEntry `json:"signals"`
	}
	archivedRun struct {
		ID               uuid.UUID            `json:"id"`
		WorkflowID       uuid.UUID            `json:"workflowId"`
		WorkflowRevision int                  `json:"workflowRevision"`
		TriggerNodeID    string               `json:"triggerNodeId"`
		Status           flow.ExecutionStatus `json:"status"`
		Input            map[string]any       `json:"input"` // as stored: secret fields stay sealed
		Output           map[string]any       `json:"output"`
		ErrorMessage     string               `json:"errorMessage"`
		IdempotencyKey   string               `json:"idempotencyKey"`
		RequestHash      string               `json:"requestHash"`
		TraceParent      string               `json:"traceParent"`
		TraceState       string               `json:"traceState,omitempty"`
		Baggage          string               `json:"baggage,omitempty"`
		CurrentStep      int                  `json:"currentStep"`
		TotalSteps       int                  `json:"totalSteps"`
		CancelRequested  bool                 `json:"cancelRequested"`
		LeaseOwner       string               `json:"-"` // a finished execution's lease means nothing
		LeaseExpiresAt   *time.Time           `json:"-"`
		StartedAt        time.Time            `json:"startedAt"`
		CompletedAt      *time.Time           `json:"completedAt"`
		UpdatedAt        time.Time            `json:"updatedAt"`
	}
	archivedStep struct {
		ExecutionID  uuid.UUID       `json:"-"`
		Number       int             `json:"number"`
		NodeID       string          `json:"nodeId"`
		Name         string          `json:"name"`
		Status       flow.StepStatus `json:"status"`
		Input        any             `json:"input"`
		Output       any             `json:"output"`
		ErrorMessage string          `json:"errorMessage"`
		Attempts     int             `json:"attempts"`
		CallDetails  map[string]any  `json:"callDetails"`
		StartedAt    time.Time       `json:"startedAt"`
		CompletedAt  time.Time       `json:"completedAt"`
	}
	archivedWait struct {
		ID          uuid.UUID        `json:"id"`
		ExecutionID uuid.UUID        `json:"-"`
		WorkflowID  uuid.UUID        `json:"-"`
		NodeID      string           `json:"nodeId"`
		Kind        flow.NodeType    `json:"kind"`
		Status      flow.WaitStatus  `json:"status"`
		DueAt       *time.Time       `json:"dueAt"`
		Signal      string           `json:"signal"`
		Review      *flow.ReviewTask `json:"review"`
		Output      any              `json:"output"`
		Handle      string           `json:"handle"`
		Decisions   []flow.Decision  `json:"-"` // archivedWaitRecord's, with their names
		CreatedAt   time.Time        `json:"createdAt"`
		ResolvedAt  *time.Time       `json:"resolvedAt"`
	}
	archivedWaitRecord struct {
		archivedWait
		Decisions []archivedDecision `json:"decisions"`
	}
	archivedDecision struct {
		Decision  string    `json:"decision"`
		Comment   string    `json:"comment"`
		ActorType string    `json:"actorType"`
		ActorID   string    `json:"actorId"`
		DecidedAt time.Time `json:"decidedAt"`
	}
	archivedSignalEntry struct {
		ExecutionID uuid.UUID `json:"-"`
		Name        string    `json:"name"`
		Payload     any       `json:"payload"`
		Source      string    `json:"source"`
		ActorType   string    `json:"actorType"`
		ActorID     string    `json:"actorId"`
		ReceivedAt  time.Time `json:"receivedAt"`
	}
)

// archiveFile is one batch's file while it is written: a temporary file
// in its day directory, renamed to its name once complete and durable.
type archiveFile struct {
	dir, dayDir string
	tmp         *os.File
	digest      hash.Hash
	size        int64
	gz          *gzip.Writer
	lines       *json.Encoder
	entry       ArchiveEntry
	committed   bool
}

func createArchiveFile(dir string, completed time.Time, batch uuid.UUID) (*archiveFile, error) {
	day := completed.Format(time.DateOnly)
	dayDir := filepath.Join(dir, day)
	if err := os.MkdirAll(dayDir, 0o750); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dayDir, ".executions-*.tmp")
	if err != nil {
		return nil, err
	}
	f := &archiveFile{dir: dir, dayDir: dayDir, tmp: tmp, digest: sha256.New(), entry: ArchiveEntry{
		File: day + "/executions-" + batch.String() + ".jsonl.gz", ByStatus: map[flow.ExecutionStatus]int{}}}
	f.gz = gzip.NewWriter(io.MultiWriter(tmp, f.digest, (*byteCounter)(&f.size)))
	f.lines = json.NewEncoder(f.gz)
	f.lines.SetEscapeHTML(false)
	return f, nil
}

type byteCounter int64

func (c *byteCounter) Write(p []byte) (int, error) {
	*c += byteCounter(len(p))
	return len(p), nil
}

// write appends an execution's line.
func (f *archiveFile) write(e *flow.Execution, steps []flow.Step, waits []flow.Wait, signals []flow.Signal) error {
	rec := archivedExecution{Execution: archivedRun(*e), Steps: make([]archivedStep, len(steps)),
		Waits: make([]archivedWaitRecord, len(waits)), Signals: make([]archivedSignalEntry, len(signals))}
	for i := range steps {
		rec.Steps[i] = archivedStep(steps[i])
	}
	for i := range waits {
		rec.Waits[i].archivedWait = archivedWait(waits[i])
		rec.Waits[i].Decisions = make([]archivedDecision, len(waits[i].Decisions))
		for j, d := range waits[i].Decisions {
			rec.Waits[i].Decisions[j] = archivedDecision(d)
		}
	}
	for i := range signals {
		rec.Signals[i] = archivedSignalEntry(signals[i])
	}
	en := &f.entry
	if en.Executions == 0 {
		en.FirstCompletedAt = e.CompletedAt.UTC()
	}
	en.LastCompletedAt = e.CompletedAt.UTC()
	en.Executions++
	en.ByStatus[e.Status]++
	en.Steps, en.Waits, en.Signals = en.Steps+len(steps), en.Waits+len(waits), en.Signals+len(signals)
	return f.lines.Encode(rec)
}

// commit makes the file durable under its name, then lists it in its
// day's manifest (durable too): both before the caller deletes a row.
func (f *archiveFile) commit(now time.Time) (*ArchiveEntry, error) {
	if err := f.gz.Close(); err != nil {
		return nil, err
	}
	if err := errors.Join(f.tmp.Sync(), f.tmp.Close()); err != nil {
		return nil, err
	}
	final := filepath.Join(f.dir, filepath.FromSlash(f.entry.File))
	if err := os.Rename(f.tmp.Name(), final); err != nil {
		return nil, err
	}
	f.committed = true
	f.entry.SHA256, f.entry.Bytes, f.entry.WrittenAt = hex.EncodeToString(f.digest.Sum(nil)), f.size, now
	if err := errors.Join(syncDir(f.dayDir), syncDir(f.dir)); err != nil { // the file's name, the day's directory
		f.removeUnlisted(final)
		return nil, err
	}
	if err := f.addToManifest(); err != nil {
		f.removeUnlisted(final)
		return nil, err
	}
	return &f.entry, nil
}

// removeUnlisted removes the file of a batch that failed unless its
// manifest lists it (the docs' worst case: a listed file no event
// records). Kept unlisted, a failing manifest (a full disk, a malformed
// MANIFEST.json) left one more file nothing records on every run (found
// by a defect hunt).
func (f *archiveFile) removeUnlisted(final string) {
	m, err := readManifest(filepath.Join(f.dayDir, manifestName))
	if err == nil && slices.ContainsFunc(m.Files, func(e ArchiveEntry) bool { return e.File == f.entry.File }) {
		return
	}
	_ = os.Remove(final)
}

// discard removes the temporary file of a batch that did not commit.
func (f *archiveFile) discard() {
	if !f.committed {
		_ = f.tmp.Close() // already closed when commit failed late
		_ = os.Remove(f.tmp.Name())
	}
}

// addToManifest rewrites the day's manifest with the entry added,
// atomically (a new file renamed over the old one).
func (f *archiveFile) addToManifest() error {
	path := filepath.Join(f.dayDir, manifestName)
	m, err := readManifest(path)
	if err != nil {
		return err
	}
	m.Files = append(m.Files, f.entry)
	if m.Day == "" {
		m.Format, m.Day = ArchiveFormat, filepath.Base(f.dayDir)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.dayDir, ".manifest-*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(data, '\n'))
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return syncDir(f.dayDir)
}

func readManifest(path string) (manifest, error) {
	var m manifest
	f, err := openRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err == nil {
		var data []byte
		data, err = io.ReadAll(f)
		_ = f.Close()
		if err == nil {
			err = json.Unmarshal(data, &m)
		}
	}
	if err != nil {
		return m, fmt.Errorf("archive manifest %s: %w", path, err)
	}
	return m, nil
}

// openRegular opens a file of the archive for reading, or refuses it if it
// is not a regular file: a hostile archive's named pipe would block the
// open until someone writes to it, its link to /dev/zero would be read
// forever (a manifest: into memory). The open does not block (and that
// changes nothing for a regular file).
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) //nolint:gosec // a path under the configured archive directory
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// syncDir makes a directory's entries (a new or renamed file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // the archive directory or one of its days
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
