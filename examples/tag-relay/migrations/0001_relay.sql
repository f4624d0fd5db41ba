-- The relay's own table. Everything social (the instance actor and the tag actors with their
-- keys, the subscriptions and the tags' followers as follows, the Announces sent, processed
-- activity ids, rate limits) is instance-state's (st_* tables, migrated before this one). One
-- dialect SQLite and PostgreSQL both run. Times are Unix microseconds (instance-state's clock).

-- The posts announced by each tag actor: a post is announced once per tag, however often it
-- arrives (from its server, forwarded, announced by a subscribed relay, updated).
CREATE TABLE tr_announced (
    post TEXT NOT NULL,
    tag TEXT NOT NULL,
    announced BIGINT NOT NULL,
    PRIMARY KEY (post, tag)
);
CREATE INDEX tr_announced_at ON tr_announced (announced);
