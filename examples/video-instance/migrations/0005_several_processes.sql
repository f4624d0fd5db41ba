-- Several `serve` processes on one database (PostgreSQL): background work held under a
-- renewed lease, and the search changes every process follows. One dialect SQLite and
-- PostgreSQL both run, as 0001's.

-- A processing job or a mirror that runs is held by one process: `lease` names the claim (a
-- fresh uuid per claim; a mirror's is its `attempt`), `lease_until` says until when it is
-- held (Unix milliseconds), renewed while the work goes on. A job whose lease lapsed (its
-- process died) is taken by another process. NULL (rows from before this migration): lapsed.
ALTER TABLE vi_jobs ADD COLUMN lease TEXT;
ALTER TABLE vi_jobs ADD COLUMN lease_until BIGINT;
ALTER TABLE vi_mirrors ADD COLUMN lease_until BIGINT;

-- The search changes: each row says that the searchable data of a video or a playlist
-- changed (it is read again from the database by every process, whose index is its own). The
-- sequence comes from the one row of vi_search_sequence, bumped in the transaction that
-- appends: appends are serialized, without gaps, so that a process that saw `seq` has seen
-- every change before it. Rows older than an hour are pruned; a process that missed pruned
-- rows rebuilds its index.
CREATE TABLE vi_search_sequence (
    id BIGINT PRIMARY KEY,
    last BIGINT NOT NULL
);
INSERT INTO vi_search_sequence (id, last) VALUES (1, 0);

CREATE TABLE vi_search_changes (
    seq BIGINT PRIMARY KEY,
    -- video or playlist
    kind TEXT NOT NULL,
    -- Its ActivityPub id.
    object TEXT NOT NULL,
    -- Unix seconds.
    created BIGINT NOT NULL
);
CREATE INDEX vi_search_changes_created ON vi_search_changes (created);
