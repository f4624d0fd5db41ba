-- What a tag actor's announce was, so that it can be withdrawn: the `Announce`'s id (its
-- `Undo` names it, as Mastodon finds the boost to remove), the post's author, and when the
-- announce was withdrawn (the post deleted at its server, or its author gone). A withdrawn row
-- stays, so that the post is never announced again by that tag. Rows made before this
-- migration have no activity id or author: they cannot be withdrawn.
ALTER TABLE tr_announced ADD COLUMN activity TEXT;
ALTER TABLE tr_announced ADD COLUMN author TEXT;
ALTER TABLE tr_announced ADD COLUMN withdrawn BIGINT;
CREATE INDEX tr_announced_author ON tr_announced (author);
