-- The followers collection of a remote actor (its document's `followers`, on its own origin),
-- kept when the actor is remembered or updates itself. A reader's scope takes in the followers
-- collections of the actors it follows through it (instance-state's `Scope`), so that what a
-- remote actor addresses to its followers shows to the readers here who follow it, wherever
-- its server keeps that collection.
ALTER TABLE st_remote_actors ADD COLUMN followers TEXT;
-- The actor documents of the past were not kept, so the remote actors followed here start
-- with the address Mastodon, Mobilizon, PeerTube and this workspace give their followers,
-- `{actor}/followers` (on the actor's origin, so it shows nothing of another server's), which
-- the pod assumed until now; the actor's own replaces it when it is seen again (its Accept,
-- Follow, Update or Move).
UPDATE st_remote_actors SET followers = id || '/followers'
WHERE EXISTS (SELECT 1 FROM st_follows f WHERE f.followed = st_remote_actors.id
    AND f.state = 'accepted');
-- A reader's scope looks each address of an item up among the followers collections.
CREATE INDEX st_remote_actors_followers ON st_remote_actors (followers);
