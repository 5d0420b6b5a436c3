-- The Slack adapter: each Slack thread is one conversation, so follow-ups in
-- the thread are answered in its context.
CREATE TABLE slack_threads (
    channel         TEXT NOT NULL,
    thread_ts       TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    PRIMARY KEY (channel, thread_ts)
);

-- Events already taken, by event id and by asking message: Slack's retries
-- and duplicate deliveries are answered once, also across a restart.
CREATE TABLE slack_deliveries (
    key         TEXT PRIMARY KEY NOT NULL,
    -- Unix seconds.
    received_at INTEGER NOT NULL
);
CREATE INDEX slack_deliveries_received_at ON slack_deliveries (received_at);
