-- Moving accounts (FEP-7628, as Mastodon does it).
-- A local actor's other accounts (`alsoKnownAs`, a JSON array of actor ids), the account it
-- moved to (`movedTo`) and when (Unix microseconds).
ALTER TABLE st_actors ADD COLUMN also_known_as TEXT NOT NULL DEFAULT '[]';
ALTER TABLE st_actors ADD COLUMN moved_to TEXT;
ALTER TABLE st_actors ADD COLUMN moved_at BIGINT;
-- The account a remote actor moved to, once a Move of it was accepted here.
ALTER TABLE st_remote_actors ADD COLUMN moved_to TEXT;
-- Every move accepted here or made here: from `origin` to `target` (actor ids), when. Kept to
-- refuse a move back within 30 days and to show where an account went.
CREATE TABLE st_moves (
    origin TEXT NOT NULL,
    target TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (origin, target)
);
CREATE INDEX st_moves_target ON st_moves (target, at);
