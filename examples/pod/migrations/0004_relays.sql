-- The relays the instance actor subscribes to (see src/relays.rs).

-- `address`: what the administrator gave (a Mastodon-style relay's inbox, a LitePub relay's
-- actor); `kind`: `mastodon` or `litepub`; `actor`: the relay's actor (a Mastodon-style
-- relay's is known from its Accept); `inbox`: where the Follow went; `follow_id`: the Follow's
-- id, which the relay's Accept or Reject names; `state`: `pending`, `accepted` or `rejected`.
CREATE TABLE pd_relays (
    address TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    actor TEXT,
    inbox TEXT NOT NULL,
    follow_id TEXT NOT NULL,
    state TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX pd_relays_follow ON pd_relays (follow_id);
