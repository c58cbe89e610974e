-- +goose Up
-- One counter every change to the catalog advances, in the changing
-- transaction: workflows, provider configurations and webhook routes, by
-- any writer (an older Flowker too, or an operator's SQL). A process keeps
-- the revisions and routes it looked up with the counter it read before
-- reading them, and answers from memory while the counter has not moved:
-- one shared read of one row per lookup instead of one of each kind
-- (docs/engine.md, "Catalog lookups from memory").
-- The trigger runs before each statement, so a transaction takes the
-- counter's row lock before any row of the catalog: catalog writes queue
-- on it, in that order, and cannot deadlock on it.
-- The counter never goes back to a value a process may have kept values
-- with: it is at least the time of the change in microseconds, so this
-- table made again, or restored from an old backup, counts on from now.
-- It names the schema of the table changed, whatever the writing
-- session's search_path (an operator's schema-qualified SQL).
CREATE TABLE catalog_version (
    one     boolean PRIMARY KEY DEFAULT TRUE CHECK (one),
    version bigint NOT NULL
);
INSERT INTO catalog_version (one, version)
VALUES (TRUE, CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS bigint));

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE %I.catalog_version SET version = greatest(version + 1, $1)', TG_TABLE_SCHEMA)
        USING CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS bigint);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER workflows_catalog BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON workflows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_changed();
CREATE TRIGGER provider_configurations_catalog BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON provider_configurations
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_changed();
CREATE TRIGGER webhook_routes_catalog BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON webhook_routes
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_changed();

-- +goose Down
DROP TRIGGER webhook_routes_catalog ON webhook_routes;
DROP TRIGGER provider_configurations_catalog ON provider_configurations;
DROP TRIGGER workflows_catalog ON workflows;
DROP FUNCTION catalog_changed();
DROP TABLE catalog_version;
