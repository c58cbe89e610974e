-- +goose Up
-- Append-only, hash-chained audit trail. seq is the chain order.
CREATE TABLE audit_events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT NOT NULL UNIQUE,
    occurred_at   TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    action        TEXT NOT NULL,
    result        TEXT NOT NULL CHECK (result IN ('SUCCESS', 'FAILED')),
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    actor_ip      TEXT NOT NULL DEFAULT '',
    request_id    TEXT NOT NULL DEFAULT '',
    trace_id      TEXT NOT NULL DEFAULT '',
    metadata      TEXT NOT NULL,
    previous_hash TEXT NOT NULL DEFAULT '',
    hash          TEXT NOT NULL
);
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id, seq);
CREATE INDEX audit_events_type ON audit_events (event_type, seq);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at, seq);

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
