-- Mentions, hashtags, followed tags and the photos of posts (notifications are
-- instance-state's st_notifications).

-- The handles typed in mentions (`user@host`, in lowercase) and the actors WebFinger found for
-- them, so that a later mention of the same handle is not looked up again.
CREATE TABLE pd_handles (
    handle TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    resolved BIGINT NOT NULL
);

-- The hashtags of posts and comments, local and received (normalized names, without `#`).
CREATE TABLE pd_post_tags (
    post TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (post, tag)
);
CREATE INDEX pd_post_tags_tag ON pd_post_tags (tag, post);

-- The tags local people follow (their streams show the public posts with them).
CREATE TABLE pd_tag_follows (
    actor TEXT NOT NULL,
    tag TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (actor, tag)
);
CREATE INDEX pd_tag_follows_tag ON pd_tag_follows (tag);

-- What is attached to posts and comments: the photos uploaded with a local post (kept in the
-- media store, recorded in pd_images), or what a received Note's `attachment` lists (its
-- http(s) address, on the sender's server). In order.
CREATE TABLE pd_attachments (
    post TEXT NOT NULL,
    position BIGINT NOT NULL,
    url TEXT NOT NULL,
    media_type TEXT NOT NULL,
    width BIGINT,
    height BIGINT,
    description TEXT NOT NULL,
    PRIMARY KEY (post, position)
);
