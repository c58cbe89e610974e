-- +goose Up
-- The rest of the W3C trace context of the request that started an
-- execution (docs/telemetry.md, "One execution, one trace"): its run goes
-- on in the caller's trace with the caller's tracestate and baggage.
ALTER TABLE executions ADD COLUMN trace_state TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN baggage TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE executions DROP COLUMN baggage;
ALTER TABLE executions DROP COLUMN trace_state;
