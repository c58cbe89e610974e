-- +goose Up
-- Chains a group commit's audit events after the chain's head and inserts
-- them, on the server: the head's hash and time were read in a round trip
-- of their own before the events could be sealed in Go, and now travel
-- with COMMIT (docs/engine.md, "Audit events chained on the server").
-- The caller holds the audit lock (AuditLock) until commit, as before, so
-- processes that still seal in Go chain in the same order.
--
-- Each event's hash is audit.ComputeHash's: hex SHA-256 over its fields,
-- each length-prefixed and '|'-terminated. The caller sends the fields that
-- do not depend on the head, encoded (tails); the head supplies the
-- previous hash (GENESIS for none) and raises an earlier timestamp to its
-- own (an empty chain's head is year 1, as Go's zero time: no timestamp
-- before it), which is then formatted as Go's timeLayout (UTC,
-- microseconds). Rows come back in the events' order with what the server
-- decided; the time as Unix microseconds, which no session setting
-- (DateStyle) formats.
-- +goose StatementBegin
CREATE FUNCTION flowker_audit_append(ids uuid[], occurred timestamptz[], event_types text[], actions text[],
    results text[], resource_types text[], resource_ids text[], actor_types text[], actor_ids text[],
    actor_ips text[], request_ids text[], trace_ids text[], metadatas text[], tails bytea[])
RETURNS TABLE (out_seq bigint, out_occurred_us bigint, out_previous_hash text, out_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    prev text;
    head timestamptz;
    ts timestamptz;
    stamp text;
    linked text;
    h text;
BEGIN
    SELECT a.hash, a.occurred_at INTO prev, head FROM audit_events a ORDER BY a.seq DESC LIMIT 1;
    prev := coalesce(prev, '');
    head := coalesce(head, '0001-01-01 00:00:00+00');
    FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP
        ts := occurred[i];
        IF ts < head THEN
            ts := head;
        END IF;
        stamp := to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
        linked := CASE WHEN prev = '' THEN 'GENESIS' ELSE prev END;
        h := encode(sha256(convert_to(octet_length(linked) || ':' || linked || '|' ||
            octet_length(ids[i]::text) || ':' || ids[i]::text || '|' ||
            octet_length(stamp) || ':' || stamp || '|', 'UTF8') || tails[i]), 'hex');
        INSERT INTO audit_events (event_id, occurred_at, event_type, action, result, resource_type, resource_id,
            actor_type, actor_id, actor_ip, request_id, trace_id, metadata, previous_hash, hash)
        VALUES (ids[i], ts, event_types[i], actions[i], results[i], resource_types[i], resource_ids[i],
            actor_types[i], actor_ids[i], actor_ips[i], request_ids[i], trace_ids[i], metadatas[i]::jsonb, prev, h)
        RETURNING seq INTO out_seq;
        out_occurred_us := CAST(extract(epoch FROM ts) * 1000000 AS bigint);
        out_previous_hash := prev;
        out_hash := h;
        RETURN NEXT;
        prev := h;
        head := ts;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS flowker_audit_append(uuid[], timestamptz[], text[], text[], text[], text[], text[], text[],
    text[], text[], text[], text[], text[], bytea[]);
