-- +goose Up
-- The index on an unfinished execution's lease owner served one statement,
-- the hand-back of this process's executions at shutdown, and the queue
-- depth; both now read executions_unfinished_started (the same unfinished
-- rows). Every execution paid for it twice: an entry inserted with the row
-- and deleted when it finished, a page more in both commits
-- (docs/history.md, "Writes that leave the indexes alone").
DROP INDEX executions_owner;

-- +goose Down
CREATE INDEX executions_owner ON executions (lease_owner) WHERE status IN ('pending', 'running');
