-- +goose Up
-- The definition each activated revision runs; executions pin a revision.
CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (workflow_id, revision)
) STRICT;

-- Webhook routes of active workflows, so every replica serves every route.
CREATE TABLE webhook_routes (
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    workflow_id  TEXT NOT NULL,
    node_id      TEXT NOT NULL,
    verify_token TEXT NOT NULL DEFAULT '', -- sealed (enc:v1:…)
    PRIMARY KEY (method, path)
) STRICT;
CREATE INDEX webhook_routes_workflow ON webhook_routes (workflow_id);

-- The execution table is the queue: a worker leases a row while it runs it.
CREATE TABLE executions (
    id                TEXT PRIMARY KEY,
    workflow_id       TEXT NOT NULL,
    workflow_revision INTEGER NOT NULL,
    trigger_node_id   TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
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
CREATE UNIQUE INDEX executions_idempotency ON executions (workflow_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX executions_started_at ON executions (started_at, id);
CREATE INDEX executions_workflow_started ON executions (workflow_id, started_at, id);
CREATE INDEX executions_status_started ON executions (status, started_at, id);
CREATE INDEX executions_completed_at ON executions (completed_at, id) WHERE completed_at IS NOT NULL;
CREATE INDEX executions_unfinished ON executions (lease_expires_at) WHERE status IN ('pending', 'running');
CREATE INDEX executions_owner ON executions (lease_owner) WHERE status IN ('pending', 'running');

-- One row per processed node; append-only, a retry adds rows.
CREATE TABLE execution_steps (
    execution_id  TEXT NOT NULL REFERENCES executions (id),
    step_number   INTEGER NOT NULL,
    node_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('completed', 'failed', 'skipped')),
    input         TEXT,
    output        TEXT,
    error_message TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0,
    call_details  TEXT,
    started_at    TEXT NOT NULL,
    completed_at  TEXT NOT NULL,
    PRIMARY KEY (execution_id, step_number)
) STRICT;

-- +goose Down
DROP TABLE execution_steps;
DROP TABLE executions;
DROP TABLE webhook_routes;
DROP TABLE workflow_versions;
