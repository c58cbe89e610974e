-- +goose Up
CREATE TABLE provider_configurations (
    id          uuid PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    provider_id text NOT NULL,
    config      jsonb NOT NULL, -- secret fields sealed (enc:v1:…)
    status      text NOT NULL CHECK (status IN ('active', 'disabled')),
    metadata    jsonb NOT NULL,
    revision    integer NOT NULL CHECK (revision > 0),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX provider_configurations_created_at ON provider_configurations (created_at, id);
CREATE INDEX provider_configurations_provider ON provider_configurations (provider_id, status, name);

CREATE TABLE executor_configurations (
    id             uuid PRIMARY KEY,
    name           text COLLATE "C" NOT NULL UNIQUE,
    description    text NOT NULL DEFAULT '',
    base_url       text NOT NULL,
    endpoints      jsonb NOT NULL,
    authentication jsonb NOT NULL, -- secret fields sealed (enc:v1:…)
    status         text NOT NULL CHECK (status IN ('unconfigured', 'configured', 'tested', 'active', 'disabled')),
    metadata       jsonb NOT NULL,
    revision       integer NOT NULL CHECK (revision > 0),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    last_tested_at timestamptz
);
CREATE INDEX executor_configurations_created_at ON executor_configurations (created_at, id);
CREATE INDEX executor_configurations_status ON executor_configurations (status, created_at, id);

-- +goose Down
DROP TABLE executor_configurations;
DROP TABLE provider_configurations;
