-- The index's own tables. Everything social (the instance actor and its keys, follows both
-- ways, remote actors' names, processed activity ids, settings) is instance-state's (st_*
-- tables, migrated before these). One dialect SQLite and PostgreSQL both run. Times are Unix
-- seconds.

-- Every public video received from a followed instance, eligible or not: the source of truth
-- the search index is derived from (rebuilt from here when the eligibility rules change).
CREATE TABLE ix_videos (
    id TEXT PRIMARY KEY,
    -- The origin's authority (`host` or `host:port`), for removals by host.
    host TEXT NOT NULL,
    -- The account (Person) and the channel (Group) it is attributed to.
    account TEXT NOT NULL,
    channel TEXT NOT NULL,
    -- When the origin last changed it (an older `Update` than this is ignored).
    updated BIGINT NOT NULL,
    -- The `Video` document as received (JSON).
    document TEXT NOT NULL,
    received BIGINT NOT NULL
);
CREATE INDEX ix_videos_account ON ix_videos (account);
CREATE INDEX ix_videos_channel ON ix_videos (channel);
CREATE INDEX ix_videos_host ON ix_videos (host);

-- The channels and accounts the videos name, as fetched from their servers (NULL document:
-- the fetch failed, not tried again before `fetched` + the cache's lifetime).
CREATE TABLE ix_actors (
    id TEXT PRIMARY KEY,
    document TEXT,
    fetched BIGINT NOT NULL
);
