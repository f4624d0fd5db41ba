-- The social state of an instance. One dialect that SQLite and PostgreSQL both run (TEXT,
-- BIGINT, composite keys): the crate reaches both through sqlx's `Any` driver, so every
-- statement of the crate is written once. Times are Unix microseconds; flags are 0 or 1.

CREATE TABLE st_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- People who sign in. An account owns several actors (identities).
CREATE TABLE st_accounts (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT,
    -- An argon2id PHC string; NULL: the account cannot sign in with a password.
    password_hash TEXT,
    -- user, moderator or admin.
    role TEXT NOT NULL,
    -- active, pending (sign-up awaiting approval) or suspended.
    state TEXT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);

-- Sessions and API tokens: only the SHA-256 of the secret is kept.
CREATE TABLE st_credentials (
    hash TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES st_accounts (id) ON DELETE CASCADE,
    -- session or token.
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    -- The identity the session acts as (an actor's name), switchable.
    actor TEXT,
    created BIGINT NOT NULL,
    last_used BIGINT NOT NULL,
    -- NULL: never expires.
    expires BIGINT,
    -- NULL: not revoked.
    revoked BIGINT
);
CREATE INDEX st_credentials_account ON st_credentials (account, kind);

-- This server's actors, with their keys (PKCS#8 PEM) and profile.
CREATE TABLE st_actors (
    name TEXT PRIMARY KEY,
    -- Person, Group, Application or Service.
    kind TEXT NOT NULL,
    account TEXT REFERENCES st_accounts (id) ON DELETE SET NULL,
    display_name TEXT NOT NULL,
    summary TEXT NOT NULL,
    icon TEXT,
    image TEXT,
    manually_approves_followers BIGINT NOT NULL,
    discoverable BIGINT NOT NULL,
    rsa_key TEXT NOT NULL,
    ed25519_key TEXT NOT NULL,
    -- 1: deleted; the actor is served as a Tombstone and its name is never given again.
    deleted BIGINT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX st_actors_account ON st_actors (account);

-- Who follows whom, local or remote, by actor id, with the Follow's id and its state.
CREATE TABLE st_follows (
    follower TEXT NOT NULL,
    followed TEXT NOT NULL,
    follow_id TEXT NOT NULL,
    -- pending, accepted or rejected.
    state TEXT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (follower, followed)
);
CREATE INDEX st_follows_followed ON st_follows (followed, state);
CREATE INDEX st_follows_follow_id ON st_follows (follow_id);

-- Blocks: by a local actor, or by the whole instance (blocker ''); of an actor or a domain.
CREATE TABLE st_blocks (
    blocker TEXT NOT NULL,
    -- actor or domain.
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (blocker, kind, target)
);
CREATE INDEX st_blocks_target ON st_blocks (target);

-- Objects (notes, events, videos...), local and remote; a deleted one is its Tombstone.
CREATE TABLE st_objects (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    local BIGINT NOT NULL,
    attributed_to TEXT,
    in_reply_to TEXT,
    context TEXT,
    document TEXT NOT NULL,
    -- public, unlisted, followers or direct: derived from the addressing (st_addressing).
    visibility TEXT NOT NULL,
    deleted BIGINT NOT NULL,
    published BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    stored BIGINT NOT NULL
);
CREATE INDEX st_objects_attributed ON st_objects (attributed_to, published);
CREATE INDEX st_objects_context ON st_objects (context);
CREATE INDEX st_objects_reply ON st_objects (in_reply_to);

-- Activities, local (the outboxes) and remote.
CREATE TABLE st_activities (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    object TEXT,
    local BIGINT NOT NULL,
    document TEXT NOT NULL,
    visibility TEXT NOT NULL,
    published BIGINT NOT NULL,
    stored BIGINT NOT NULL
);
CREATE INDEX st_activities_actor ON st_activities (actor, local, stored);
CREATE INDEX st_activities_object ON st_activities (object);

-- The addressing of objects and activities, one row per recipient: field is to, cc, bto, bcc,
-- audience, or author (attributedTo / actor, who always sees their own). Public is written
-- https://www.w3.org/ns/activitystreams#Public whatever the spelling received.
CREATE TABLE st_addressing (
    item TEXT NOT NULL,
    field TEXT NOT NULL,
    address TEXT NOT NULL,
    PRIMARY KEY (item, field, address)
);
CREATE INDEX st_addressing_address ON st_addressing (address);

-- The ids of the activities the inbox processed (its idempotency record).
CREATE TABLE st_processed (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL
);

-- Names and handles of remote actors met, for pages.
CREATE TABLE st_remote_actors (
    id TEXT PRIMARY KEY,
    kind TEXT,
    name TEXT NOT NULL,
    handle TEXT,
    url TEXT,
    inbox TEXT,
    updated BIGINT NOT NULL
);

-- What happened to a local actor: someone followed, asked to follow, replied, reported...
CREATE TABLE st_notifications (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    activity TEXT,
    object TEXT,
    created BIGINT NOT NULL,
    seen BIGINT
);
CREATE INDEX st_notifications_recipient ON st_notifications (recipient, created);

-- Reports (Flag activities, received or made here).
CREATE TABLE st_reports (
    id TEXT PRIMARY KEY,
    activity_id TEXT,
    reporter TEXT NOT NULL,
    target TEXT NOT NULL,
    -- A JSON array of the reported objects' ids.
    objects TEXT NOT NULL,
    content TEXT NOT NULL,
    -- open, resolved or dismissed.
    state TEXT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX st_reports_state ON st_reports (state, created);
CREATE UNIQUE INDEX st_reports_activity ON st_reports (activity_id);

-- Who did what, when: every moderation decision.
CREATE TABLE st_moderation_log (
    id TEXT PRIMARY KEY,
    moderator TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    report TEXT,
    note TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX st_moderation_log_at ON st_moderation_log (at);
