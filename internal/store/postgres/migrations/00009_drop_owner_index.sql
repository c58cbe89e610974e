-- +goose NO TRANSACTION
-- +goose Up
-- The index on an unfinished execution's lease owner served one statement,
-- the hand-back of a process's executions at shutdown, and the queue depth;
-- both now read executions_unfinished_started (the same unfinished rows).
-- Every execution paid for it: an entry with the inserted row and another
-- with its terminal write (not a HOT update: the status changes)
-- (docs/history.md, "Writes that leave the indexes alone"). Dropped
-- CONCURRENTLY, outside a transaction, so running replicas keep writing.
DROP INDEX CONCURRENTLY IF EXISTS executions_owner;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS executions_owner
    ON executions (lease_owner) WHERE status IN ('pending', 'running');
