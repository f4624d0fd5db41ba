-- PostgreSQL: nothing to change. Version 7 rebuilds SQLite's `st_processed` without a rowid
-- (0007_processed_sqlite.sql); PostgreSQL tables have no rowid, and its primary key index is
-- the only index of the table already.
SELECT 1;
