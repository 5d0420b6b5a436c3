-- PostgreSQL twin of sqlite/20261123000002_slack.sql.
CREATE TABLE slack_threads (
    channel         TEXT NOT NULL,
    thread_ts       TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    PRIMARY KEY (channel, thread_ts)
);

CREATE TABLE slack_deliveries (
    key         TEXT PRIMARY KEY NOT NULL,
    -- Unix seconds.
    received_at BIGINT NOT NULL
);
CREATE INDEX slack_deliveries_received_at ON slack_deliveries (received_at);
