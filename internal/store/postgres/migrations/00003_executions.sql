-- +goose Up
-- The definition each activated revision runs; executions pin a revision.
CREATE TABLE workflow_versions (
    workflow_id uuid NOT NULL,
    revision    integer NOT NULL,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, revision)
);

-- Webhook routes of active workflows, so every replica serves every route.
CREATE TABLE webhook_routes (
    method       text NOT NULL,
    path         text COLLATE "C" NOT NULL,
    workflow_id  uuid NOT NULL,
    node_id      text NOT NULL,
    verify_token text NOT NULL DEFAULT '', -- sealed (enc:v1:…)
    PRIMARY KEY (method, path)
);
CREATE INDEX webhook_routes_workflow ON webhook_routes (workflow_id);

-- The execution table is the queue: a worker leases a row while it runs it.
CREATE TABLE executions (
    id                uuid PRIMARY KEY,
    workflow_id       uuid NOT NULL,
    workflow_revision integer NOT NULL,
    trigger_node_id   text NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    input             jsonb NOT NULL,
    output            jsonb,
    error_message     text NOT NULL DEFAULT '',
    idempotency_key   text,
    request_hash      text NOT NULL DEFAULT '',
    trace_parent      text NOT NULL DEFAULT '',
    current_step      integer NOT NULL DEFAULT 0,
    total_steps       integer NOT NULL DEFAULT 0,
    cancel_requested  boolean NOT NULL DEFAULT false,
    lease_owner       text NOT NULL DEFAULT '',
    lease_expires_at  timestamptz,
    started_at        timestamptz NOT NULL,
    completed_at      timestamptz,
    updated_at        timestamptz NOT NULL
);
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
    execution_id  uuid NOT NULL REFERENCES executions (id),
    step_number   integer NOT NULL,
    node_id       text NOT NULL,
    name          text NOT NULL,
    status        text NOT NULL CHECK (status IN ('completed', 'failed', 'skipped')),
    input         jsonb,
    output        jsonb,
    error_message text NOT NULL DEFAULT '',
    attempts      integer NOT NULL DEFAULT 0,
    call_details  jsonb,
    started_at    timestamptz NOT NULL,
    completed_at  timestamptz NOT NULL,
    PRIMARY KEY (execution_id, step_number)
);

-- +goose Down
DROP TABLE execution_steps;
DROP TABLE executions;
DROP TABLE webhook_routes;
DROP TABLE workflow_versions;
