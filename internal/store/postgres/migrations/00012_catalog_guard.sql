-- +goose Up
-- The guard of an execution started from catalog lookups answered from
-- memory, without reading catalog_version first (a webhook call's route
-- and workflow revision): sent with the insert, it fails the transaction
-- unless the counter is still at the value those lookups were kept with.
--   SELECT CAST((SELECT version FROM catalog_version) IS NOT DISTINCT FROM $1 AS catalog_unchanged)
-- The failure is a CHECK violation (23514) naming this domain, which
-- Flowker reports as "the catalog changed" and serves the call again with
-- the counter read (docs/engine.md, "Catalog lookups from memory").
CREATE DOMAIN catalog_unchanged AS boolean CHECK (VALUE);

-- +goose Down
DROP DOMAIN catalog_unchanged;
