-- +goose NO TRANSACTION
-- +goose Up
-- History that does not slow the present (docs/history.md).
--
-- Outside goose's transaction: indexes are built CONCURRENTLY, so replicas
-- still running keep writing while they build. Every statement can run
-- again after an interruption (IF NOT EXISTS; the counts are rebuilt from
-- scratch under a table lock), as goose records the version only at the end.

-- Lists that filter by workflow and status, or sort by completion time
-- with a filter, read an index range instead of scanning past history.
CREATE INDEX CONCURRENTLY IF NOT EXISTS executions_workflow_status_started
    ON executions (workflow_id, status, started_at, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS executions_workflow_completed
    ON executions (workflow_id, completed_at, id) WHERE completed_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS executions_status_completed
    ON executions (status, completed_at, id) WHERE completed_at IS NOT NULL;
-- Claims take unfinished executions oldest first; the lease expiry is only
-- filtered among them. Without an index on it, a heartbeat (which changes
-- only the expiry) changes no indexed column and may be a HOT update.
CREATE INDEX CONCURRENTLY IF NOT EXISTS executions_unfinished_started
    ON executions (started_at) WHERE status IN ('pending', 'running');
DROP INDEX CONCURRENTLY IF EXISTS executions_unfinished;
-- Reviews of one workflow, newest first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS execution_waits_reviews_workflow
    ON execution_waits (workflow_id, created_at, id) WHERE kind = 'review';

-- Dashboard counts. Every insert, status change and delete of an execution
-- appends one row here, in its own transaction (triggers below): appends
-- take no lock another writer waits for. The store folds these rows into
-- the rollups now and then; a count reads the rollups plus the rows not
-- folded yet, so it is exact at any time.
BEGIN;
-- Writers wait from here to COMMIT: each change is in the backfill or
-- seen by the triggers, never both, never neither.
LOCK TABLE executions IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE IF NOT EXISTS execution_count_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    workflow_id uuid NOT NULL,
    from_status text, -- NULL: the execution was inserted
    to_status   text  -- NULL: the execution was deleted
);

-- Executions by start slot or UTC day, a column per status. slot is the
-- start's Unix seconds divided by 900 (flow.SlotWidth, 15 minutes), day by
-- 86400.
CREATE TABLE IF NOT EXISTS execution_counts_by_slot (
    slot        bigint PRIMARY KEY,
    pending     bigint NOT NULL DEFAULT 0,
    running     bigint NOT NULL DEFAULT 0,
    waiting     bigint NOT NULL DEFAULT 0,
    completed   bigint NOT NULL DEFAULT 0,
    failed      bigint NOT NULL DEFAULT 0,
    cancelled   bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS execution_counts_by_workflow_slot (
    workflow_id uuid NOT NULL,
    slot        bigint NOT NULL,
    pending     bigint NOT NULL DEFAULT 0,
    running     bigint NOT NULL DEFAULT 0,
    waiting     bigint NOT NULL DEFAULT 0,
    completed   bigint NOT NULL DEFAULT 0,
    failed      bigint NOT NULL DEFAULT 0,
    cancelled   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workflow_id, slot)
);
CREATE TABLE IF NOT EXISTS execution_counts_by_day (
    day         bigint PRIMARY KEY,
    pending     bigint NOT NULL DEFAULT 0,
    running     bigint NOT NULL DEFAULT 0,
    waiting     bigint NOT NULL DEFAULT 0,
    completed   bigint NOT NULL DEFAULT 0,
    failed      bigint NOT NULL DEFAULT 0,
    cancelled   bigint NOT NULL DEFAULT 0
);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION execution_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO execution_count_changes (started_at, workflow_id, to_status)
        VALUES (NEW.started_at, NEW.workflow_id, NEW.status);
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO execution_count_changes (started_at, workflow_id, from_status, to_status)
        VALUES (NEW.started_at, NEW.workflow_id, OLD.status, NEW.status);
    ELSE
        INSERT INTO execution_count_changes (started_at, workflow_id, from_status)
        VALUES (OLD.started_at, OLD.workflow_id, OLD.status);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
DROP TRIGGER IF EXISTS executions_count_insert ON executions;
DROP TRIGGER IF EXISTS executions_count_update ON executions;
DROP TRIGGER IF EXISTS executions_count_delete ON executions;
CREATE TRIGGER executions_count_insert AFTER INSERT ON executions
    FOR EACH ROW EXECUTE FUNCTION execution_count_change();
CREATE TRIGGER executions_count_update AFTER UPDATE OF status ON executions
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION execution_count_change();
CREATE TRIGGER executions_count_delete AFTER DELETE ON executions
    FOR EACH ROW EXECUTE FUNCTION execution_count_change();

-- Backfill from scratch, so a second run counts nothing twice.
DELETE FROM execution_count_changes;
DELETE FROM execution_counts_by_slot;
DELETE FROM execution_counts_by_workflow_slot;
DELETE FROM execution_counts_by_day;
INSERT INTO execution_counts_by_slot (slot, pending, running, waiting, completed, failed, cancelled)
SELECT floor(extract(epoch FROM started_at) / 900)::bigint,
    count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'running'),
    count(*) FILTER (WHERE status = 'waiting'), count(*) FILTER (WHERE status = 'completed'),
    count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled')
FROM executions GROUP BY 1;
INSERT INTO execution_counts_by_workflow_slot (workflow_id, slot, pending, running, waiting, completed, failed, cancelled)
SELECT workflow_id, floor(extract(epoch FROM started_at) / 900)::bigint,
    count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'running'),
    count(*) FILTER (WHERE status = 'waiting'), count(*) FILTER (WHERE status = 'completed'),
    count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled')
FROM executions GROUP BY 1, 2;
INSERT INTO execution_counts_by_day (day, pending, running, waiting, completed, failed, cancelled)
SELECT floor(extract(epoch FROM started_at) / 86400)::bigint,
    count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'running'),
    count(*) FILTER (WHERE status = 'waiting'), count(*) FILTER (WHERE status = 'completed'),
    count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled')
FROM executions GROUP BY 1;
COMMIT;

-- +goose Down
DROP TRIGGER executions_count_delete ON executions;
DROP TRIGGER executions_count_update ON executions;
DROP TRIGGER executions_count_insert ON executions;
DROP FUNCTION execution_count_change();
DROP TABLE execution_counts_by_day;
DROP TABLE execution_counts_by_workflow_slot;
DROP TABLE execution_counts_by_slot;
DROP TABLE execution_count_changes;
DROP INDEX execution_waits_reviews_workflow;
CREATE INDEX executions_unfinished ON executions (lease_expires_at) WHERE status IN ('pending', 'running');
DROP INDEX executions_unfinished_started;
DROP INDEX executions_status_completed;
DROP INDEX executions_workflow_completed;
DROP INDEX executions_workflow_status_started;
