-- +goose Up
-- The audit chain is keyed (docs/decisions.md, "Audit trail"): each hash is
-- an HMAC under a key that never reaches the database, so events are
-- sealed in Go again and the server's unkeyed chaining goes. Dropping it
-- also stops a process of an earlier version, still running during a
-- deploy, from appending unkeyed events after the keyed ones: its audited
-- writes fail until it is replaced.
DROP FUNCTION IF EXISTS flowker_audit_append(uuid[], timestamptz[], text[], text[], text[], text[], text[], text[],
    text[], text[], text[], text[], text[], bytea[]);

-- +goose Down
-- Not restored: a version that chains on the server would append unkeyed
-- events after keyed ones, and the chain would no longer verify.
SELECT 1;
