-- +goose NO TRANSACTION
-- +goose Up
-- Executions that wait for a review, a callback or a timer (docs/waiting.md).
-- SQLite cannot change a CHECK constraint in place: the executions table is
-- rebuilt (the documented procedure: foreign keys off, one transaction).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE executions_new (
    id                TEXT PRIMARY KEY,
    workflow_id       TEXT NOT NULL,
    workflow_revision INTEGER NOT NULL,
    trigger_node_id   TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'waiting')),
    input             TEXT NOT NULL,
    output            TEXT,
    error_message     TEXT NOT NULL DEFAULT '',
    idempotency_key   TEXT,
    request_hash      TEXT NOT NULL DEFAULT '',
    trace_parent      TEXT NOT NULL DEFAULT '',
    current_step      INTEGER NOT NULL DEFAULT 0,
    total_steps       INTEGER NOT NULL DEFAULT 0,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT NOT NULL DEFAULT '',
    lease_expires_at  TEXT,
    started_at        TEXT NOT NULL,
    completed_at      TEXT,
    updated_at        TEXT NOT NULL
) STRICT;
INSERT INTO executions_new SELECT * FROM executions;
DROP TABLE executions;
ALTER TABLE executions_new RENAME TO executions;
CREATE UNIQUE INDEX executions_idempotency ON executions (workflow_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX executions_started_at ON executions (started_at, id);
CREATE INDEX executions_workflow_started ON executions (workflow_id, started_at, id);
CREATE INDEX executions_status_started ON executions (status, started_at, id);
CREATE INDEX executions_completed_at ON executions (completed_at, id) WHERE completed_at IS NOT NULL;
CREATE INDEX executions_unfinished ON executions (lease_expires_at) WHERE status IN ('pending', 'running');
CREATE INDEX executions_owner ON executions (lease_owner) WHERE status IN ('pending', 'running');

-- One row per node an execution waits at; a retry after a cancel opens a new one.
CREATE TABLE execution_waits (
    id           TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES executions (id),
    workflow_id  TEXT NOT NULL,
    node_id      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('review', 'wait_for_callback', 'delay')),
    status       TEXT NOT NULL CHECK (status IN ('open', 'resolved', 'expired', 'cancelled')),
    due_at       TEXT,
    signal       TEXT NOT NULL DEFAULT '',
    review_group TEXT NOT NULL DEFAULT '',
    review       TEXT,
    output       TEXT,
    handle       TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    resolved_at  TEXT
) STRICT;
CREATE UNIQUE INDEX execution_waits_open ON execution_waits (execution_id, node_id) WHERE status = 'open';
CREATE INDEX execution_waits_execution ON execution_waits (execution_id, created_at);
-- Timers and deadlines are claimed by due time, like the queue.
CREATE INDEX execution_waits_due ON execution_waits (due_at) WHERE status = 'open' AND due_at IS NOT NULL;
CREATE INDEX execution_waits_reviews ON execution_waits (status, created_at, id) WHERE kind = 'review';
CREATE INDEX execution_waits_reviews_created ON execution_waits (created_at, id) WHERE kind = 'review';

-- One decision per identity per review: four-eyes needs distinct people.
CREATE TABLE review_decisions (
    wait_id    TEXT NOT NULL REFERENCES execution_waits (id),
    actor_type TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    decision   TEXT NOT NULL,
    comment    TEXT NOT NULL DEFAULT '',
    decided_at TEXT NOT NULL,
    PRIMARY KEY (wait_id, actor_type, actor_id)
) STRICT;

-- Callbacks and signals, kept even when they arrive before their node.
CREATE TABLE execution_signals (
    execution_id TEXT NOT NULL REFERENCES executions (id),
    name         TEXT NOT NULL,
    payload      TEXT,
    source       TEXT NOT NULL,
    actor_type   TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (execution_id, name)
) STRICT;
COMMIT;
PRAGMA foreign_keys = ON;

-- +goose Down
DROP TABLE execution_signals;
DROP TABLE review_decisions;
DROP TABLE execution_waits;
