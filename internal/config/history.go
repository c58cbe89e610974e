package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// sha256Hex is a hash as the audit chain stores it.
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// History configures retention (docs/history.md): executions that finished
// longer ago than RetentionAge are archived to files and removed from the
// database. Off unless RETENTION_AGE is set: nothing leaves unasked.
type History struct {
	RetentionAge       time.Duration // RETENTION_AGE: 0 keeps every execution
	ArchiveDir         string        // RETENTION_ARCHIVE_DIR: required with RETENTION_AGE
	RetentionInterval  time.Duration // RETENTION_INTERVAL: how often old executions are looked for
	RetentionBatchSize int           // RETENTION_BATCH_SIZE: executions per archive file and transaction
	// AuditHeadLogInterval (AUDIT_HEAD_LOG_INTERVAL): how often the audit
	// chain's head is logged when it moved, for the log store to hold
	// outside the database; 0 never.
	AuditHeadLogInterval time.Duration
	// SealUnkeyedAuditChain (AUDIT_SEAL_UNKEYED_CHAIN): the hash of the
	// newest event of a chain recorded before the chain was keyed, which
	// the operator checked: a start seals that chain, and no other
	// (service.KeyAuditChain). Empty refuses to start on one.
	SealUnkeyedAuditChain string
}

// MinRetentionAge is the shortest RETENTION_AGE: an archived execution can
// no longer be read, retried or matched by its Idempotency-Key, so an age
// shorter than a day is far more likely a mistake than a policy.
const MinRetentionAge = 24 * time.Hour

func (r *reader) history() History {
	h := History{
		RetentionAge:          r.age("RETENTION_AGE"),
		ArchiveDir:            r.str("RETENTION_ARCHIVE_DIR", ""),
		RetentionInterval:     r.positiveDuration("RETENTION_INTERVAL", time.Hour),
		RetentionBatchSize:    r.integer("RETENTION_BATCH_SIZE", 500, 1, 10000),
		AuditHeadLogInterval:  r.duration("AUDIT_HEAD_LOG_INTERVAL", time.Minute),
		SealUnkeyedAuditChain: strings.ToLower(r.str("AUDIT_SEAL_UNKEYED_CHAIN", "")), // as stored
	}
	if v := h.SealUnkeyedAuditChain; v != "" && !sha256Hex.MatchString(v) {
		r.fail("AUDIT_SEAL_UNKEYED_CHAIN", fmt.Sprintf("is %q; must be the 64 hexadecimal digits of the audit "+
			"chain's newest event's hash, as the refusal to start names it", v))
	}
	switch {
	case h.RetentionAge > 0 && h.RetentionAge < MinRetentionAge:
		r.fail("RETENTION_AGE", fmt.Sprintf("is %q; must be at least 24h (or 1d), or unset to keep every execution",
			r.str("RETENTION_AGE", "")))
	case h.RetentionAge > 0 && h.ArchiveDir == "":
		r.fail("RETENTION_ARCHIVE_DIR", "must be set with RETENTION_AGE: executions are archived there before they are removed")
	case h.RetentionAge == 0 && h.ArchiveDir != "":
		r.fail("RETENTION_ARCHIVE_DIR", "is set but RETENTION_AGE is not: set both to archive, neither to keep every execution")
	}
	return h
}

// age reads a duration that may also be given in whole days ("400d").
func (r *reader) age(name string) time.Duration {
	v := r.str(name, "")
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*366 {
			r.fail(name, fmt.Sprintf("is %q; must be a number of days such as 400d, or a duration such as 720h", v))
			return 0
		}
		return time.Duration(n) * 24 * time.Hour
	}
	return r.duration(name, 0)
}
