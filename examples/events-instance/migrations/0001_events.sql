-- The events instance's own tables: what is about events. Everything social (actors, keys,
-- accounts and tokens, follows, the objects and activities with their addressing, processed
-- ids, remote actors, settings) is instance-state's (st_* tables, migrated before these).
-- One dialect SQLite and PostgreSQL both run, as instance-state's. Times are Unix seconds.

-- Events (local and remote, not deleted): the columns pages and calendars select on. The
-- document and who may see it are the st_objects row and st_addressing rows of the same id.
CREATE TABLE ev_events (
    id TEXT PRIMARY KEY,
    local BIGINT NOT NULL,
    -- The group it is filed under (a group's page and calendar), if any.
    context TEXT,
    start_time BIGINT
);
CREATE INDEX ev_events_start ON ev_events (start_time);
CREATE INDEX ev_events_context ON ev_events (context, start_time);

-- Comments and replies (not deleted), by the event whose thread they are in.
CREATE TABLE ev_comments (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    published BIGINT NOT NULL,
    -- When first stored, in microseconds: orders comments published in the same second.
    stored BIGINT NOT NULL
);
CREATE INDEX ev_comments_event ON ev_comments (event, published);

-- Members of local groups and their roles (administrator, moderator, member, not_approved,
-- invited), by actor id, local or remote.
CREATE TABLE ev_group_members (
    group_name TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (group_name, actor)
);
CREATE INDEX ev_group_members_actor ON ev_group_members (actor);

-- Participations in events (local and remote): pending, accepted, rejected or left.
CREATE TABLE ev_event_participations (
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    join_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (event, actor)
);
CREATE INDEX ev_event_participations_join ON ev_event_participations (join_id);
CREATE INDEX ev_event_participations_actor ON ev_event_participations (actor, state);
