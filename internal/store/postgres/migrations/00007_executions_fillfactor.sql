-- +goose Up
-- Room on each new page of executions for its rows' next versions. The
-- progress write of a running execution changes no indexed column: with
-- room on the row's page PostgreSQL writes the new version there (a HOT
-- update) instead of adding an entry to each of the table's ten indexes.
-- Pages filled by inserts alone had none: 2 % of updates were HOT under the
-- bench's load, 28 % with fillfactor 70, 50 % (every progress write; the
-- other half change the status) with 50, which cut PostgreSQL's CPU per
-- execution by about a tenth (docs/history.md). The lock taken blocks no
-- reads or writes; pages filled from now on keep the room.
ALTER TABLE executions SET (fillfactor = 50);

-- +goose Down
ALTER TABLE executions RESET (fillfactor);
