-- +goose Up
CREATE TABLE workflows (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('draft', 'active', 'inactive')),
    revision    INTEGER NOT NULL CHECK (revision > 0),
    nodes       TEXT NOT NULL,
    edges       TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX workflows_created_at ON workflows (created_at, id);
CREATE INDEX workflows_updated_at ON workflows (updated_at, id);
CREATE INDEX workflows_status_created_at ON workflows (status, created_at, id);

-- +goose Down
DROP TABLE workflows;
