-- The followers a Move from an archive could not be sent to yet (see src/pending_moves.rs):
-- their actor document could not be fetched when the archive was imported (their server did
-- not answer), so their inbox was unknown. The serving process tries again with backoff.

-- `id`: the Move's id, `mover`: the local name of the account that sends it (the new account),
-- `proof`: the signed Move as the archive carries it (JSON), sent byte for byte.
CREATE TABLE pd_pending_moves (
    id TEXT PRIMARY KEY,
    mover TEXT NOT NULL,
    proof TEXT NOT NULL,
    created BIGINT NOT NULL
);

-- One follower of the old account the Move has still to reach: `attempts` so far,
-- `last_error` the last failure, `first_tried` and `next_try` in Unix microseconds, `state`
-- `pending` or `given_up` (past the bound, kept for the administrator to see).
CREATE TABLE pd_move_recipients (
    move_id TEXT NOT NULL,
    follower TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    first_tried BIGINT NOT NULL,
    next_try BIGINT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (move_id, follower)
);
CREATE INDEX pd_move_recipients_due ON pd_move_recipients (state, next_try);
