package sqlstore

import "time"

// SetBatchTimeout shortens the group-commit deadline for a test; call it
// before the first Batch.
func SetBatchTimeout(s *DB, d time.Duration) { s.batchTimeout = d }

// SetCloseGrace shortens how long Close waits for an in-flight batch.
func SetCloseGrace(s *DB, d time.Duration) { s.closeGrace = d }

// Queued is how many Batch callers wait for the group-commit loop.
func Queued(s *DB) int { return len(s.batches) }

var HasEscapedNUL = hasEscapedNUL
