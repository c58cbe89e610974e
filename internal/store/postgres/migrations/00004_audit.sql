-- +goose Up
-- Append-only, hash-chained audit trail. seq is the chain order: appends
-- take a transaction-scoped advisory lock before the row gets its seq.
CREATE TABLE audit_events (
    seq           bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    occurred_at   timestamptz NOT NULL,
    event_type    text NOT NULL,
    action        text NOT NULL,
    result        text NOT NULL CHECK (result IN ('SUCCESS', 'FAILED')),
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    actor_type    text NOT NULL,
    actor_id      text NOT NULL,
    actor_ip      text NOT NULL DEFAULT '',
    request_id    text NOT NULL DEFAULT '',
    trace_id      text NOT NULL DEFAULT '',
    metadata      jsonb NOT NULL,
    previous_hash text NOT NULL DEFAULT '',
    hash          text NOT NULL
);
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id, seq);
CREATE INDEX audit_events_type ON audit_events (event_type, seq);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at, seq);

-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- +goose Down
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
