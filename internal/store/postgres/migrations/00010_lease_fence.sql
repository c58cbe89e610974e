-- +goose Up
-- A progress write is fenced on its lease (UPDATE … WHERE lease_owner = …);
-- one that finds no row lost it. Cast to this type, the count of rows it
-- updated fails the statement when it is not 1, so the server aborts the
-- transaction itself and the group commit may send COMMIT in the same
-- round trip (docs/engine.md, "Group commit").
CREATE DOMAIN execution_lease_held AS boolean CHECK (VALUE);

-- +goose Down
DROP DOMAIN IF EXISTS execution_lease_held;
