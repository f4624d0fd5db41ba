-- SQLite only (PostgreSQL runs 0007_processed_postgres.sql under the same version).
-- The inbox's idempotency record is written once per accepted activity: in a table with a
-- rowid, each insert changed two B-trees (the rows, and the index of the `id` primary key),
-- two pages to write into the WAL at each commit. Keyed by the id alone (`WITHOUT ROWID`), an
-- insert changes one. The ids kept are copied over: an activity processed before the upgrade
-- is still a duplicate after it.
CREATE TABLE st_processed_by_id (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO st_processed_by_id (id, at) SELECT id, at FROM st_processed;
DROP TABLE st_processed;
ALTER TABLE st_processed_by_id RENAME TO st_processed;
