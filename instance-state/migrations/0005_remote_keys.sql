-- The public key of a remote actor (its `publicKey`: the RSA key's id and PEM), kept when the
-- actor is remembered or updates itself. A `Move` passed on by the new account after the old
-- server is gone is believed from a Linked Data signature by this key (instance-state's
-- `moves`), as Mastodon believes it from the key it stored.
ALTER TABLE st_remote_actors ADD COLUMN key_id TEXT;
ALTER TABLE st_remote_actors ADD COLUMN public_key TEXT;
