-- +goose Up
CREATE TABLE provider_configurations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    provider_id TEXT NOT NULL,
    config      TEXT NOT NULL, -- secret fields sealed (enc:v1:…)
    status      TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    metadata    TEXT NOT NULL,
    revision    INTEGER NOT NULL CHECK (revision > 0),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX provider_configurations_created_at ON provider_configurations (created_at, id);
CREATE INDEX provider_configurations_provider ON provider_configurations (provider_id, status, name);

CREATE TABLE executor_configurations (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    description    TEXT NOT NULL DEFAULT '',
    base_url       TEXT NOT NULL,
    endpoints      TEXT NOT NULL,
    authentication TEXT NOT NULL, -- secret fields sealed (enc:v1:…)
    status         TEXT NOT NULL CHECK (status IN ('unconfigured', 'configured', 'tested', 'active', 'disabled')),
    metadata       TEXT NOT NULL,
    revision       INTEGER NOT NULL CHECK (revision > 0),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    last_tested_at TEXT
) STRICT;
CREATE INDEX executor_configurations_created_at ON executor_configurations (created_at, id);
CREATE INDEX executor_configurations_status ON executor_configurations (status, created_at, id);

-- +goose Down
DROP TABLE executor_configurations;
DROP TABLE provider_configurations;
