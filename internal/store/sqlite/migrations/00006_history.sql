-- +goose Up
-- History that does not slow the present (docs/history.md).

-- Lists that filter by workflow and status, or sort by completion time
-- with a filter, read an index range instead of scanning past history.
CREATE INDEX executions_workflow_status_started ON executions (workflow_id, status, started_at, id);
CREATE INDEX executions_workflow_completed ON executions (workflow_id, completed_at, id) WHERE completed_at IS NOT NULL;
CREATE INDEX executions_status_completed ON executions (status, completed_at, id) WHERE completed_at IS NOT NULL;
-- Claims take unfinished executions oldest first; the lease expiry is only
-- filtered among them, so the partial index holds the start time instead.
DROP INDEX executions_unfinished;
CREATE INDEX executions_unfinished_started ON executions (started_at) WHERE status IN ('pending', 'running');
-- Reviews of one workflow, newest first.
CREATE INDEX execution_waits_reviews_workflow ON execution_waits (workflow_id, created_at, id) WHERE kind = 'review';

-- Dashboard counts. Every insert, status change and delete of an execution
-- appends one row here, in its own transaction (triggers below); the store
-- folds these rows into the rollups now and then. A count reads the
-- rollups plus the rows not folded yet, so it is exact at any time.
CREATE TABLE execution_count_changes (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    from_status TEXT, -- NULL: the execution was inserted
    to_status   TEXT  -- NULL: the execution was deleted
) STRICT;

-- Executions by start slot or UTC day, a column per status. slot is the
-- start's Unix seconds divided by 900 (flow.SlotWidth, 15 minutes), day by
-- 86400.
CREATE TABLE execution_counts_by_slot (
    slot        INTEGER PRIMARY KEY,
    pending     INTEGER NOT NULL DEFAULT 0,
    running     INTEGER NOT NULL DEFAULT 0,
    waiting     INTEGER NOT NULL DEFAULT 0,
    completed   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    cancelled   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE execution_counts_by_workflow_slot (
    workflow_id TEXT NOT NULL,
    slot        INTEGER NOT NULL,
    pending     INTEGER NOT NULL DEFAULT 0,
    running     INTEGER NOT NULL DEFAULT 0,
    waiting     INTEGER NOT NULL DEFAULT 0,
    completed   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    cancelled   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workflow_id, slot)
) STRICT, WITHOUT ROWID;
CREATE TABLE execution_counts_by_day (
    day         INTEGER PRIMARY KEY,
    pending     INTEGER NOT NULL DEFAULT 0,
    running     INTEGER NOT NULL DEFAULT 0,
    waiting     INTEGER NOT NULL DEFAULT 0,
    completed   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    cancelled   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- +goose StatementBegin
CREATE TRIGGER executions_count_insert AFTER INSERT ON executions
BEGIN
    INSERT INTO execution_count_changes (started_at, workflow_id, to_status)
    VALUES (NEW.started_at, NEW.workflow_id, NEW.status);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER executions_count_update AFTER UPDATE OF status ON executions
WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO execution_count_changes (started_at, workflow_id, from_status, to_status)
    VALUES (NEW.started_at, NEW.workflow_id, OLD.status, NEW.status);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER executions_count_delete AFTER DELETE ON executions
BEGIN
    INSERT INTO execution_count_changes (started_at, workflow_id, from_status)
    VALUES (OLD.started_at, OLD.workflow_id, OLD.status);
END;
-- +goose StatementEnd

-- Backfill, in this migration's transaction.
INSERT INTO execution_counts_by_slot (slot, pending, running, waiting, completed, failed, cancelled)
SELECT unixepoch(started_at) / 900,
    count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'running'),
    count(*) FILTER (WHERE status = 'waiting'), count(*) FILTER (WHERE status = 'completed'),
    count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled')
FROM executions GROUP BY 1;
INSERT INTO execution_counts_by_workflow_slot (workflow_id, slot, pending, running, waiting, completed, failed, cancelled)
SELECT workflow_id, unixepoch(started_at) / 900,
    count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'running'),
    count(*) FILTER (WHERE status = 'waiting'), count(*) FILTER (WHERE status = 'completed'),
    count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled')
FROM executions GROUP BY 1, 2;
INSERT INTO execution_counts_by_day (day, pending, running, waiting, completed, failed, cancelled)
SELECT unixepoch(started_at) / 86400,
    count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'running'),
    count(*) FILTER (WHERE status = 'waiting'), count(*) FILTER (WHERE status = 'completed'),
    count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled')
FROM executions GROUP BY 1;

-- +goose Down
DROP TRIGGER executions_count_delete;
DROP TRIGGER executions_count_update;
DROP TRIGGER executions_count_insert;
DROP TABLE execution_counts_by_day;
DROP TABLE execution_counts_by_workflow_slot;
DROP TABLE execution_counts_by_slot;
DROP TABLE execution_count_changes;
DROP INDEX execution_waits_reviews_workflow;
DROP INDEX executions_unfinished_started;
CREATE INDEX executions_unfinished ON executions (lease_expires_at) WHERE status IN ('pending', 'running');
DROP INDEX executions_status_completed;
DROP INDEX executions_workflow_completed;
DROP INDEX executions_workflow_status_started;
