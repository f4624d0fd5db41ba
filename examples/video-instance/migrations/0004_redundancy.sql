-- Redundancy (PeerTube's word): copies of other servers' videos kept and served here, announced
-- to their origin with a CacheFile, and the copies other servers announce of this server's
-- videos.

-- The followed instances whose videos are all mirrored here (their instance actors).
CREATE TABLE vi_mirror_sources (
    instance TEXT PRIMARY KEY,
    created BIGINT NOT NULL
);

-- The mirrors made here, one per remote video: a durable job (waiting, running, done, failed
-- with the reason, or stopped by the administrator: not mirrored again with its instance) and,
-- once done, the copy announced. Its files are vi_files rows of the
-- video, with the roles mirror-hls (the master playlist), mirror-playlist, mirror-file and
-- mirror-sha256, under `redundancy/hls/{attempt}/`.
CREATE TABLE vi_mirrors (
    video TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    error TEXT,
    -- A fresh uuid per attempt: the directory of its files in the media store.
    attempt TEXT NOT NULL,
    -- The CacheFile's id (this server's), once done.
    cache_file TEXT,
    -- When the announced copy lapses (renewed before), once done.
    expires BIGINT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX vi_mirrors_state ON vi_mirrors (state, created);

-- Copies of local videos announced by other servers (received CacheFiles).
CREATE TABLE vi_cache_files (
    -- The CacheFile's id.
    id TEXT PRIMARY KEY,
    -- The local video copied.
    video TEXT NOT NULL,
    -- Who announced it (checked on Update and Undo).
    actor TEXT NOT NULL,
    -- The copy: the HLS directory (PeerTube 7) or one file.
    href TEXT NOT NULL,
    -- application/x-mpegURL for an HLS copy, else the file's media type.
    media_type TEXT NOT NULL,
    height BIGINT,
    -- None: kept until undone.
    expires BIGINT,
    received BIGINT NOT NULL,
    -- When its Undo came (None: not withdrawn). Kept a day, so that an Update delivered after
    -- the Undo (deliveries may cross) does not bring the copy back; a Create does.
    withdrawn BIGINT
);
CREATE INDEX vi_cache_files_video ON vi_cache_files (video);
