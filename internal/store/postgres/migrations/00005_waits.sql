-- +goose Up
-- Executions that wait for a review, a callback or a timer (docs/waiting.md).
-- NOT VALID: every existing row met the stricter check it replaces, so no
-- scan of the (possibly large) table under its exclusive lock is needed.
ALTER TABLE executions DROP CONSTRAINT executions_status_check,
    ADD CONSTRAINT executions_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'waiting')) NOT VALID;

-- One row per node an execution waits at; a retry after a cancel opens a new one.
CREATE TABLE execution_waits (
    id           uuid PRIMARY KEY,
    execution_id uuid NOT NULL REFERENCES executions (id),
    workflow_id  uuid NOT NULL,
    node_id      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('review', 'wait_for_callback', 'delay')),
    status       text NOT NULL CHECK (status IN ('open', 'resolved', 'expired', 'cancelled')),
    due_at       timestamptz,
    signal       text NOT NULL DEFAULT '',
    review_group text NOT NULL DEFAULT '',
    review       jsonb,
    output       jsonb,
    handle       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    resolved_at  timestamptz
);
CREATE UNIQUE INDEX execution_waits_open ON execution_waits (execution_id, node_id) WHERE status = 'open';
CREATE INDEX execution_waits_execution ON execution_waits (execution_id, created_at);
-- Timers and deadlines are claimed by due time, like the queue.
CREATE INDEX execution_waits_due ON execution_waits (due_at) WHERE status = 'open' AND due_at IS NOT NULL;
CREATE INDEX execution_waits_reviews ON execution_waits (status, created_at, id) WHERE kind = 'review';
CREATE INDEX execution_waits_reviews_created ON execution_waits (created_at, id) WHERE kind = 'review';

-- One decision per identity per review: four-eyes needs distinct people.
CREATE TABLE review_decisions (
    wait_id    uuid NOT NULL REFERENCES execution_waits (id),
    actor_type text NOT NULL,
    actor_id   text NOT NULL,
    decision   text NOT NULL,
    comment    text NOT NULL DEFAULT '',
    decided_at timestamptz NOT NULL,
    PRIMARY KEY (wait_id, actor_type, actor_id)
);

-- Callbacks and signals, kept even when they arrive before their node.
CREATE TABLE execution_signals (
    execution_id uuid NOT NULL REFERENCES executions (id),
    name         text NOT NULL,
    payload      jsonb,
    source       text NOT NULL,
    actor_type   text NOT NULL,
    actor_id     text NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (execution_id, name)
);

-- +goose Down
DROP TABLE execution_signals;
DROP TABLE review_decisions;
DROP TABLE execution_waits;
ALTER TABLE executions DROP CONSTRAINT executions_status_check;
ALTER TABLE executions ADD CONSTRAINT executions_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled'));
