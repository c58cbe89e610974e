-- +goose Up
CREATE TABLE workflows (
    id          uuid PRIMARY KEY,
    -- byte order, as SQLite sorts, so both stores list names alike
    name        text COLLATE "C" NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    status      text NOT NULL CHECK (status IN ('draft', 'active', 'inactive')),
    revision    integer NOT NULL CHECK (revision > 0),
    nodes       jsonb NOT NULL,
    edges       jsonb NOT NULL,
    metadata    jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX workflows_created_at ON workflows (created_at, id);
CREATE INDEX workflows_updated_at ON workflows (updated_at, id);
CREATE INDEX workflows_status_created_at ON workflows (status, created_at, id);

-- +goose Down
DROP TABLE workflows;
