-- PeerTube's REST details of a video and the moderators' mirrors page. One dialect SQLite and
-- PostgreSQL both run, as 0001's.

-- A video's numeric id, as PeerTube's REST API names videos (`/api/v1/videos/{id}`): 53 bits
-- of the hash of its ActivityPub id (video-search's `derived_id`, the id its search answers
-- give), written with the row. NULL (rows from before this migration): filled by the instance
-- before it looks a number up.
ALTER TABLE vi_videos ADD COLUMN num BIGINT;
CREATE INDEX vi_videos_num ON vi_videos (num);

-- A copy of a local video another server announced that a moderator hid (Unix seconds):
-- no longer listed in the video's document, page or REST details. Kept when the copy is
-- renewed; forgotten with the copy.
ALTER TABLE vi_cache_files ADD COLUMN hidden BIGINT;
