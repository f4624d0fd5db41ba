-- Objects other than Notes kept as posts (PeerTube's Videos, Mobilizon's Events, Articles,
-- Pages): their row is in pd_posts (content: their summary or content, sanitized), and what
-- their card shows is here.
CREATE TABLE pd_cards (
    -- The post (the object's id).
    post TEXT PRIMARY KEY,
    -- Video, Event, Article or Page.
    kind TEXT NOT NULL,
    -- Its title ('' when none).
    name TEXT NOT NULL,
    -- An event's start, Unix microseconds.
    starts BIGINT,
    -- A video's thumbnail (http(s)).
    image TEXT,
    -- Its page at its origin (http(s)).
    link TEXT NOT NULL,
    -- JSON array: its authors of its own origin (attributedTo, Mobilizon's actor).
    authors TEXT NOT NULL
);
