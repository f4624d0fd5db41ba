-- Processing of local videos with ffmpeg: a thumbnail and an HLS rendition made in the
-- background after an upload, one job per video, kept here so that a restart resumes it.
-- The files it makes are vi_files rows of the video, with the roles `thumbnail`, `hls` (the
-- master playlist), `hls-playlist` (the rendition's byte-range media playlist), `hls-file`
-- (the rendition: one fragmented MP4) and `hls-sha256` (the segments' SHA-256, PeerTube's
-- JSON).
CREATE TABLE vi_jobs (
    -- The video (vi_videos.id).
    video TEXT PRIMARY KEY,
    -- waiting, running, done or failed.
    state TEXT NOT NULL,
    -- Percent done while running (from ffmpeg's progress against the duration).
    progress BIGINT NOT NULL,
    -- Why it failed, for the video's owner.
    error TEXT,
    -- The original's duration as probed at upload, in milliseconds (0: unknown).
    duration_ms BIGINT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX vi_jobs_state ON vi_jobs (state, created);
