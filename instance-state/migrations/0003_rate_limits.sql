-- Rate limiters shared by every process on this database (InstanceState::advance_limit): per
-- limiter and key, the time (Unix microseconds) the key's allowance is whole again. Rows whose
-- time has passed are dropped as others are written, so the table holds only limited keys.
CREATE TABLE st_rate_limits (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX st_rate_limits_at ON st_rate_limits (scope, at);
