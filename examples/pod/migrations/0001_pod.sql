-- The pod's own tables, beside instance-state's (same database, same dialect: TEXT, BIGINT,
-- composite keys). Times are Unix microseconds. Every post and comment is also an object in
-- st_objects, whose addressing rows (st_addressing) decide who may read it; these rows are
-- what the pages select and sort on.

-- Posts and comments (Notes), local and remote.
CREATE TABLE pd_posts (
    -- The Note's id.
    id TEXT PRIMARY KEY,
    -- Its author (an actor id, local or remote).
    author TEXT NOT NULL,
    local BIGINT NOT NULL,
    -- What it answers (a post or a comment); NULL for a post.
    in_reply_to TEXT,
    -- The post a comment is under (the thread's first post); NULL for a post.
    root TEXT,
    -- The Markdown it was written in (local ones; '' for remote ones).
    source TEXT NOT NULL,
    -- Sanitized HTML.
    content TEXT NOT NULL,
    -- public, unlisted, followers, aspects (local posts to aspects), or limited (received,
    -- addressed to named people).
    audience TEXT NOT NULL,
    -- JSON arrays, for the hashtags and mentions to come ([] until then).
    tags TEXT NOT NULL,
    mentions TEXT NOT NULL,
    published BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX pd_posts_author ON pd_posts (author, published);
CREATE INDEX pd_posts_root ON pd_posts (root, published);
CREATE INDEX pd_posts_stream ON pd_posts (published);

-- A person's aspects (named sets of contacts).
CREATE TABLE pd_aspects (
    id TEXT PRIMARY KEY,
    -- The local actor's name.
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    created BIGINT NOT NULL,
    UNIQUE (owner, name)
);

-- Who is in an aspect (actor ids, local or remote).
CREATE TABLE pd_aspect_members (
    aspect TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (aspect, member)
);
CREATE INDEX pd_aspect_members_member ON pd_aspect_members (member);

-- Which aspects a local post was written to (the names shown to its author).
CREATE TABLE pd_post_aspects (
    post TEXT NOT NULL,
    aspect TEXT NOT NULL,
    PRIMARY KEY (post, aspect)
);

-- Likes and reshares (Announce) of posts, by anyone, with the activity's id (for Undo).
CREATE TABLE pd_reactions (
    post TEXT NOT NULL,
    actor TEXT NOT NULL,
    -- like or share.
    kind TEXT NOT NULL,
    activity TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (post, actor, kind)
);
CREATE INDEX pd_reactions_activity ON pd_reactions (activity);
CREATE INDEX pd_reactions_actor ON pd_reactions (actor, kind, created);

-- A local person's profile fields (PropertyValue attachments), in order.
CREATE TABLE pd_profile_fields (
    actor TEXT NOT NULL,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    -- Sanitized HTML (a link is kept as a link).
    value TEXT NOT NULL,
    PRIMARY KEY (actor, position)
);

-- Images uploaded (avatars and banners), kept in the media store under `key`.
CREATE TABLE pd_images (
    key TEXT PRIMARY KEY,
    -- The local actor's name.
    owner TEXT NOT NULL,
    -- avatar or banner.
    role TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created BIGINT NOT NULL
);

-- The Markdown a local person's bio was written in (st_actors keeps its HTML, as served).
CREATE TABLE pd_bios (
    actor TEXT PRIMARY KEY,
    source TEXT NOT NULL
);
