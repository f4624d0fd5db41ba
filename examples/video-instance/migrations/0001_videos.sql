-- The video instance's own tables: what is about videos. Everything social (actors, keys,
-- accounts and tokens, follows, the objects and activities with their addressing, processed
-- ids, remote actors, settings) is instance-state's (st_* tables, migrated before these).
-- One dialect SQLite and PostgreSQL both run, as instance-state's. Times are Unix seconds.

-- Local channels (Group actors in st_actors) and the local account actor (a Person) that owns
-- each: the channel's `attributedTo`, who may publish in it.
CREATE TABLE vi_channels (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL
);
CREATE INDEX vi_channels_owner ON vi_channels (owner);

-- Videos, local and remote (not deleted): the columns the catalogue, the channel pages and
-- the feeds select on. The document and who may see it are the st_objects row and the
-- st_addressing rows of the same id.
CREATE TABLE vi_videos (
    id TEXT PRIMARY KEY,
    uuid TEXT NOT NULL,
    local BIGINT NOT NULL,
    -- The account (Person) and the channel (Group) it is attributed to.
    account TEXT NOT NULL,
    channel TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The description, in Markdown (a local video's; a remote one's is in its document).
    description TEXT NOT NULL,
    -- PeerTube's category and licence numbers, and the tags as a JSON array.
    category BIGINT,
    licence BIGINT,
    tags TEXT NOT NULL,
    duration BIGINT NOT NULL,
    -- PeerTube's states: 1 published, 2 waiting for transcoding, 3 waiting for a live...
    state BIGINT NOT NULL,
    sensitive BIGINT NOT NULL,
    -- 1 enabled, 2 disabled, 3 approval needed (PeerTube's commentsPolicy).
    comments_policy BIGINT NOT NULL,
    download_enabled BIGINT NOT NULL,
    is_live BIGINT NOT NULL,
    language TEXT,
    views BIGINT NOT NULL,
    likes BIGINT NOT NULL,
    dislikes BIGINT NOT NULL,
    published BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE UNIQUE INDEX vi_videos_uuid ON vi_videos (uuid, local);
CREATE INDEX vi_videos_published ON vi_videos (published);
CREATE INDEX vi_videos_channel ON vi_videos (channel, published);
CREATE INDEX vi_videos_account ON vi_videos (account, published);

-- The files of local videos (and of remote ones mirrored here): the original upload, its
-- renditions and thumbnails. `key` names the file in the media store.
CREATE TABLE vi_files (
    video TEXT NOT NULL,
    key TEXT NOT NULL,
    -- original, rendition, hls, thumbnail, mirror
    role TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    width BIGINT,
    height BIGINT,
    fps_milli BIGINT,
    PRIMARY KEY (video, key)
);
CREATE INDEX vi_files_key ON vi_files (key);

-- Comments (Notes) on videos, local and remote, in the thread of the video they answer.
-- `approved` is 0 while a comment on a video needing approval waits for its owner.
CREATE TABLE vi_comments (
    id TEXT PRIMARY KEY,
    video TEXT NOT NULL,
    in_reply_to TEXT NOT NULL,
    author TEXT NOT NULL,
    approved BIGINT NOT NULL,
    published BIGINT NOT NULL,
    stored BIGINT NOT NULL
);
CREATE INDEX vi_comments_video ON vi_comments (video, published);

-- Likes and dislikes, one per actor and video.
CREATE TABLE vi_rates (
    video TEXT NOT NULL,
    actor TEXT NOT NULL,
    -- like or dislike
    rate TEXT NOT NULL,
    activity TEXT NOT NULL,
    PRIMARY KEY (video, actor)
);
CREATE INDEX vi_rates_activity ON vi_rates (activity);

-- Views of local videos not yet federated: counted on the video at once, announced in
-- batches (one Update per video per interval, not one per view).
CREATE TABLE vi_pending_views (
    video TEXT PRIMARY KEY,
    since BIGINT NOT NULL
);
