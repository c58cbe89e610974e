-- +goose Up
-- The rest of the W3C trace context of the request that started an
-- execution (docs/telemetry.md, "One execution, one trace"): its run goes
-- on in the caller's trace with the caller's tracestate and baggage. A
-- column with a constant default is added without rewriting the table.
ALTER TABLE executions ADD COLUMN IF NOT EXISTS trace_state text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS baggage text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE executions DROP COLUMN baggage, DROP COLUMN trace_state;
