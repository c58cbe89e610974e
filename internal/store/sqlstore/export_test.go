package sqlstore

import (
	"database/sql"
	"time"
)

// SetBatchTimeout shortens the group-commit deadline for a test; call it
// before the first Batch.
func SetBatchTimeout(s *DB, d time.Duration) { s.batchTimeout = d }

// SetCloseGrace shortens how long Close waits for an in-flight batch.
func SetCloseGrace(s *DB, d time.Duration) { s.closeGrace = d }

// Queued is how many Batch callers wait for the group-commit loop.
func Queued(s *DB) int { return len(s.batches) }

var HasEscapedNUL = hasEscapedNUL

// CachedStatements is how many statements the writer and reader pools
// keep prepared.
func CachedStatements(s *DB) (writer, reader int) {
	count := func(c *stmtCache) int {
		if c == nil {
			return 0
		}
		c.mu.RLock()
		defer c.mu.RUnlock()
		return len(c.stmts)
	}
	return count(s.stmts.w), count(s.stmts.r)
}

// ReaderStats is the reader pool's statistics.
func ReaderStats(s *DB) sql.DBStats { return s.rdb.Stats() }

// CachedWriterTexts is the SQL of the writer pool's prepared statements.
func CachedWriterTexts(s *DB) []string {
	s.stmts.w.mu.RLock()
	defer s.stmts.w.mu.RUnlock()
	var texts []string
	for q := range s.stmts.w.stmts {
		texts = append(texts, q)
	}
	return texts
}

var MarshalJSON = marshalJSON

// The two statements SaveProgress chooses between.
const ProgressUpdate, RunningUpdate = progressUpdate, runningUpdate

// Fenced is how s's dialect sends a progress write (Dialect.FenceLease).
func Fenced(s *DB, update string) string {
	if f, ok := s.dialect.fenced[update]; ok {
		return f
	}
	return update
}

const ResolveWaitSQL, ParkExecutionSQL, WakeExecutionSQL = resolveWait, parkExecution, wakeExecution

const ReleaseLeasesSQL, CountUnfinishedSQL = releaseLeases, countUnfinished

// FoldChanges is the fold's statement, for its plan.
const FoldChanges = foldChanges

// CatalogMisses is how many catalog lookups read the database.
func CatalogMisses(s *DB) int64 { return s.catalog.misses.Load() }

// CatalogCounterReads counts the reads of the catalog counter (PostgreSQL),
// shared or travelling with a write (ReadCatalogView).
func CatalogCounterReads(s *DB) int64 { return s.catalog.reads.Load() }

// Closing reports whether Close has begun.
func Closing(s *DB) bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}
