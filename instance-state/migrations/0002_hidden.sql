-- Objects a moderator hid (InstanceState::hide_object): when (Unix microseconds), 0 when shown.
-- A hidden object keeps its document and addressing; no scope sees it.
ALTER TABLE st_objects ADD COLUMN hidden BIGINT NOT NULL DEFAULT 0;
