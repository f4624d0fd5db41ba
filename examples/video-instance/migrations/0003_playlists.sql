-- Playlists (PeerTube's `Playlist`, an ordered collection of `PlaylistElement`s), local and
-- remote, and their elements. One dialect SQLite and PostgreSQL both run, as 0001's. Times are
-- Unix seconds. Numbered 0003: 0002 belongs to another change, and the migrator applies the
-- versions it has not applied yet whatever their order (a gap is not an error).

CREATE TABLE vi_playlists (
    -- The ActivityPub id (`/video-playlists/{uuid}` for a local one).
    id TEXT PRIMARY KEY,
    uuid TEXT NOT NULL,
    local BIGINT NOT NULL,
    -- The account (Person) that owns it, and the channel (Group) it is in, if any.
    owner TEXT NOT NULL,
    channel TEXT,
    name TEXT NOT NULL,
    -- In Markdown.
    description TEXT NOT NULL,
    -- PeerTube's numbers: 1 public (listed and federated), 2 unlisted (reachable by its
    -- address), 3 private (its owner's only).
    privacy BIGINT NOT NULL,
    -- A remote playlist's image (its `icon`); a local one shows its first video's.
    thumbnail TEXT,
    published BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE UNIQUE INDEX vi_playlists_uuid ON vi_playlists (uuid, local);
CREATE INDEX vi_playlists_owner ON vi_playlists (owner, published);
CREATE INDEX vi_playlists_channel ON vi_playlists (channel, published);

-- The elements of a playlist, in the order of `position` (from 1, without gaps for local
-- playlists). `video` is the video's ActivityPub id: a remote playlist may name videos not
-- listed here.
CREATE TABLE vi_playlist_elements (
    -- The element's ActivityPub id (`{playlist}/videos/{element}` for a local one).
    id TEXT PRIMARY KEY,
    playlist TEXT NOT NULL,
    video TEXT NOT NULL,
    position BIGINT NOT NULL,
    -- The part to play, in seconds.
    start_secs BIGINT,
    stop_secs BIGINT
);
CREATE INDEX vi_playlist_elements_playlist ON vi_playlist_elements (playlist, position);
CREATE INDEX vi_playlist_elements_video ON vi_playlist_elements (video);
