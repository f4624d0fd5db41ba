-- Activities are stored once; deliveries reference them.
CREATE TABLE fq_activities (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body BYTEA NOT NULL,
    key_ref TEXT NOT NULL,
    ordering_key TEXT,
    created_at BIGINT NOT NULL
);

-- state: 0 pending, 1 in flight (due_at is the lease end), 2 dead.
CREATE TABLE fq_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id BIGINT NOT NULL,
    inbox TEXT NOT NULL,
    host TEXT NOT NULL,
    ordering_key TEXT,
    state BIGINT NOT NULL DEFAULT 0,
    due_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    enqueued_at BIGINT NOT NULL,
    token BIGINT NOT NULL DEFAULT 0,
    dead_reason TEXT,
    dead_status BIGINT,
    died_at BIGINT,
    last_error TEXT
);

CREATE INDEX fq_deliveries_due ON fq_deliveries (due_at, id) WHERE state < 2;
CREATE INDEX fq_deliveries_host ON fq_deliveries (host, state, due_at);
CREATE INDEX fq_deliveries_order ON fq_deliveries (host, ordering_key, id)
    WHERE ordering_key IS NOT NULL AND state < 2;
CREATE INDEX fq_deliveries_activity ON fq_deliveries (activity_id);
CREATE INDEX fq_deliveries_dead ON fq_deliveries (died_at) WHERE state = 2;

-- breaker: 0 closed, 1 open, 2 half-open. Times are milliseconds since the Unix epoch.
CREATE TABLE fq_hosts (
    host TEXT PRIMARY KEY,
    breaker BIGINT NOT NULL DEFAULT 0,
    unavailable BIGINT NOT NULL DEFAULT 0,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    failing_since BIGINT,
    blocked_until BIGINT,
    last_answer BIGINT
);
